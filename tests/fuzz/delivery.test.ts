import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { listDeliveries } from '../../gateway/delivery/status.js';
import type { PushAnswer } from '../../gateway/province/client.js';
import { emptyTables, useTestDatabase } from '../unit/gateway-ingest-fixture.js';
import { invitationRecord, putApprovedTerminal, recordingLogger, rows, ScriptedProvince, storeLater, storeRecords, worker } from '../unit/delivery-fixture.js';

/*
 * The delivery queue against a hostile province and hostile stored data: answers of every wrong
 * shape (NUL and lone surrogates in codes and messages, huge or deep answers, Retry-After NaN,
 * negative or huge, no kind at all, a client that throws), and records whose stored JSON is not an
 * invitation. The worker never stops, every row ends delivered or rejected, or waits behind a
 * rejected row of its case (nothing lost, nothing stuck otherwise), and what it kept reads back.
 */
const SEED = 20_261_130;

const database = useTestDatabase();
beforeEach(async () => {
  const db = database();
  await emptyTables(db);
  await db.exec('TRUNCATE operator_actions, deliveries, later_ratings');
  await putApprovedTerminal(db);
});

const nasty = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', '\u0000', 'a\u0000b', '\ud800', 'x\udc00', '本次服务已存在评价', 'x'.repeat(5000), '\u202e\u0007'));
const json = fc.oneof(fc.jsonValue({ maxDepth: 3 }), nasty, fc.constantFrom({ deep: { deep: { deep: { deep: { deep: { deep: { deep: { deep: 1 } } } } } } } }, Array.from({ length: 300 }, (_, i) => i)));
const retryAfter = fc.oneof(fc.constant(undefined), fc.constantFrom(Number.NaN, -1, Infinity, -Infinity, 1e12, 0, 5));

/** Rows still to be sent that nothing holds: a row waits only behind a rejected row of its case (which waits for an operator). */
async function unsettled(): Promise<unknown[]> {
  const { rows: left } = await database().query(
    `SELECT case_no, state FROM deliveries d WHERE state IN ('service', 'evaluation')
        AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.case_no = d.case_no AND e.position < d.position AND e.state = 'rejected')`,
  );
  return left;
}

type Scripted = PushAnswer | Error | (() => PushAnswer);
const answer: fc.Arbitrary<Scripted> = fc.oneof(
  json.map((a) => ({ kind: 'delivered', answer: a }) as unknown as PushAnswer),
  fc.record({ message: nasty, answer: json }).map((a) => ({ kind: 'duplicate', ...a }) as unknown as PushAnswer),
  fc.record({ code: fc.oneof(nasty, json), message: fc.oneof(nasty, json), answer: json }).map((a) => ({ kind: 'rejected', ...a }) as unknown as PushAnswer),
  fc.record({ message: fc.oneof(nasty, json), retryAfterMs: retryAfter }).map((a) => ({ kind: 'transient', ...a }) as unknown as PushAnswer),
  fc.anything().map((a) => (() => a) as () => PushAnswer),
  nasty.map((m) => new Error(m)),
);

describe('DeliveryWorker against hostile answers and data', () => {
  it('never stops, loses or strands a row, whatever the province answers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ cases: fc.integer({ min: 1, max: 3 }), rated: fc.boolean() }), { minLength: 1, maxLength: 5 }),
        fc.array(answer, { maxLength: 25 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        async (shapes, script, r, withLater) => {
          const db = database();
          await db.exec('TRUNCATE records, later_ratings, deliveries CASCADE');
          const records = shapes.map((s, i) =>
            invitationRecord({ services: Array.from({ length: s.cases }, (_, c) => ({ itemCode: 'I', caseNo: `F${i}-${c}` })), mode: s.cases > 1 ? 'batch' : 'single', ...(s.rated && { grade: 'dissatisfied' as const, reasons: ['R\u0001'] }) }),
          );
          await storeRecords(db, records, new Date(Date.now() - 1000));
          const first = records[0];
          if (withLater && first) await storeLater(db, { invitationId: first.id, caseNo: first.services[0]?.caseNo as string, assessNumber: first.outcome === 'rated' ? 2 : 1, ratedAt: new Date(Date.now() - 500) });
          const expected = (await rows(db)).length;
          const province = new ScriptedProvince();
          province.script.push(...(script as typeof province.script));
          const { logger, lines } = recordingLogger();
          const w = worker({ db, client: province.client(), logger, random: () => r, settings: { perSecond: 1000, timeoutMs: 1000, maxAttemptsBeforeAlert: 2, backoff: { baseMs: 10, maxMs: 20 } } });
          await w.start();
          try {
            await vi.waitFor(async () => expect(await unsettled()).toEqual([]), { timeout: 10_000, interval: 10 });
          } finally {
            await w.stop();
          }
          const final = await rows(db);
          expect(final.length).toBe(expected);
          for (const row of final) {
            if (row.state === 'rejected') {
              expect(row.code).not.toBeNull();
              expect(row.last_error).not.toBeNull();
              expect(row.rejected_phase).not.toBeNull();
            }
          }
          expect(lines.filter((l) => l.msg.includes('bug'))).toEqual([]);
          expect(w.status().dbFailures).toBe(0);
          // What was kept reads back (the admin API lists it).
          expect((await listDeliveries(db, { limit: 1000 })).length).toBe(expected);
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
  }, 120_000);

  it('stored JSON of any shape never breaks the storing transaction; its rows end rejected as unreadable or delivered', async () => {
    const caseNo = fc.string({ minLength: 1, maxLength: 64 }).filter((s) => !s.includes('\u0000'));
    const service = fc.oneof(fc.record({ caseNo, itemCode: fc.oneof(fc.string({ maxLength: 10 }), fc.integer()) }, { requiredKeys: ['caseNo'] }), fc.jsonValue({ maxDepth: 2 }));
    const recordJson = fc.oneof(
      fc.record({ services: fc.oneof(fc.array(service, { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })) }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(recordJson, { minLength: 1, maxLength: 4 }), fc.boolean(), async (bodies, test) => {
        const db = database();
        await db.exec('TRUNCATE records, later_ratings, deliveries CASCADE');
        const stored = JSON.stringify(bodies).includes('\\u0000') ? [] : bodies;
        for (const [i, body] of stored.entries()) {
          await db.query(
            `INSERT INTO records (id, terminal_id, seq, kind, schema, seal, test, area_code, hall_code, window_no, occurred_at, record, payload, received_at, instance)
             VALUES (gen_random_uuid(), 'T-DELIVERY', $1, 'invitation', 2, 'ok', $2, '330106', 'H', '1', now(), $3::jsonb, '{}', now() - interval '1 second', 'gw')`,
            [i + 1, test, JSON.stringify(body)],
          );
        }
        const queued = await rows(db);
        if (test) expect(queued).toEqual([]);
        const province = new ScriptedProvince();
        const w = worker({ db, client: province.client() });
        await w.start();
        try {
          await vi.waitFor(async () => expect((await rows(db)).filter((row) => row.state === 'service' || row.state === 'evaluation')).toEqual([]), { timeout: 10_000, interval: 10 });
        } finally {
          await w.stop();
        }
        const final = await rows(db);
        expect(final.length).toBe(queued.length);
        for (const row of final) expect(row.state === 'delivered' || (row.state === 'rejected' && (row.code === 'unreadable' || row.code === 'payload'))).toBe(true);
      }),
      { seed: SEED, numRuns: 60 },
    );
  }, 120_000);
});
