import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import { openTestPglite } from '../support/pglite-template.js';
import { profilePayloads } from '../../gateway/delivery/payloads.js';
import { httpProvinceClient } from '../../gateway/province/client.js';
import { emulatorOptionsFor } from '../../simulator/province-http/from-profile.js';
import { ProvinceHttpEmulator } from '../../simulator/province-http/server.js';
import { ManualTimers } from '../support/manual-timers.js';
import { invitationRecord, putApprovedTerminal, rows, storeRecords, worker } from '../unit/delivery-fixture.js';
import { CATALOG, sampleProfile, TEST_SECRETS } from '../unit/province-fixture.js';

/**
 * The province away for a whole (simulated) day: the delivery worker on manual time (its waits,
 * its backoff, its pace), everything else real: PGlite, the signed HTTP client, the province
 * emulator with its envelope time checked against the same simulated wall clock. Time moves
 * only while the worker waits (a discrete-event step), so a day passes in seconds.
 */

const DAY_MS = 86_400_000;
const START = Date.parse('2026-03-02T00:00:00Z');

let db: Database;
beforeAll(async () => {
  db = await openTestPglite();
  await migrate(db);
}, 60_000);
afterAll(async () => {
  await db?.close();
});

/** Real turns of the event loop until `done`, stepping manual time to the worker's next wait whenever it is waiting. */
async function runUntil(timers: ManualTimers, done: () => boolean | Promise<boolean>, maxSteps = 20_000): Promise<void> {
  for (let step = 0; step < maxSteps; step++) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
    timers.advanceToNext();
  }
  throw new Error(`not done after ${maxSteps} steps (simulated time ${timers.now()} ms)`);
}

describe('the province down for a simulated day', () => {
  it('retries with backoff all day without hammering it and loses nothing; once back, every case once, in order, at the pace', { timeout: 60_000 }, async () => {
    const timers = new ManualTimers();
    const clock = { now: () => new Date(START + timers.now()) };
    const base = sampleProfile('national');
    const emulator = await ProvinceHttpEmulator.start({ port: 0, ...emulatorOptionsFor(base, TEST_SECRETS.appWord), clock });
    try {
      const profile = sampleProfile('national', (raw) => {
        raw.allowInsecureHttp = true;
        raw.endpoints = emulator.endpoints;
      });
      await putApprovedTerminal(db);
      const records = Array.from({ length: 12 }, (_, i) =>
        invitationRecord({ areaCode: '370102', hallCode: 'hall-lixia', services: [{ itemCode: '11370102MB2F30661Y2312003564000', caseNo: `DAY-${String(i).padStart(2, '0')}` }], grade: i % 4 === 3 ? undefined : 'satisfied' }),
      );
      await storeRecords(db, records, new Date(START));
      await emulator.setFault({ kind: 'down', mode: 'closed' });

      // Its own call timeout on real time: only the worker's waits are simulated. It looks for due rows each simulated minute.
      const w = worker({ db, client: httpProvinceClient({ profile, secrets: TEST_SECRETS, clock }), payloads: profilePayloads(profile, () => CATALOG), clock, timers, pollMs: 60_000, settings: profile.http });
      await w.start();
      try {
        await runUntil(timers, () => timers.now() >= DAY_MS);
        const calls = emulator.ledger.received.length;
        // Backoff from 5 s doubling to the profile's 1 h cap: about 24 calls for the day's hours and a dozen to reach the cap, not thousands.
        expect(calls).toBeGreaterThanOrEqual(24);
        expect(calls).toBeLessThanOrEqual(60);
        expect(emulator.services).toEqual([]);
        const waiting = await rows(db);
        expect(waiting).toHaveLength(12);
        expect(waiting.every((r) => r.state === 'service')).toBe(true);
        // Every call was one row's attempt, counted on its row.
        expect(waiting.reduce((sum, r) => sum + r.attempts, 0)).toBe(calls);
        expect(w.status()).toMatchObject({ transient: calls, delivered: 0 });

        await emulator.clearFaults();
        const back = timers.now();
        await runUntil(timers, async () => (await rows(db)).every((r) => r.state === 'delivered'));
        // At most one backoff (the 1 h cap) and a poll after the province is back, then at the pace (5 a second).
        expect(timers.now() - back).toBeLessThanOrEqual(3_600_000 + 120_000);
        for (const r of records) {
          const caseNo = r.services[0]!.caseNo;
          expect(emulator.services.filter((s) => s.body.projectNo === caseNo).map((s) => s.pushes)).toEqual([1]);
          const evaluations = emulator.evaluations.filter((e) => e.body.projectNo === caseNo);
          expect(evaluations).toHaveLength(r.outcome === 'rated' ? 1 : 0);
        }
        const accepted = emulator.ledger.received.filter((c) => c.outcome === 'accepted');
        expect(accepted).toHaveLength(12 + 9);
        // The pace: 21 calls at 5 a second take at least 4 simulated seconds.
        expect(Date.parse(accepted.at(-1)!.at) - Date.parse(accepted[0]!.at)).toBeGreaterThanOrEqual(4000);
      } finally {
        await w.stop();
      }
    } finally {
      await emulator.stop();
    }
  });
});
