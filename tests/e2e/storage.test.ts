import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, DatabaseError } from '../../bridge/store/database.js';
import { Outbox } from '../../bridge/store/outbox.js';
import type { StoredEvent } from '../../protocol/records.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { terminalTopics } from '../../protocol/topics.js';
import { refusalOf } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall } from '../support/hall-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'hcp-storage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(BROKERS)('storage limits ($name broker)', (kind) => {
  const halls = useHall(kind);

  it('at its size cap the terminal refuses invitations with 507 and raises an alarm in status and telemetry, losing nothing', async () => {
    const hall = await halls.start();
    // A cap below the size of an empty database: full from the start.
    const w = await hall.window({ config: { database: { maxSizeMB: 0.001 }, mqtt: { url: hall.brokerUrl, telemetrySeconds: 1 } } });
    const telemetry = await mqtt.connectAsync(hall.brokerUrl);
    const seen: unknown[] = [];
    telemetry.on('message', (_topic, payload) => seen.push(JSON.parse(payload.toString())));
    await telemetry.subscribeAsync(terminalTopics(w.terminalId).telemetry);

    const res = await w.api('POST', '/api/v1/invitations', { services: [{ itemCode: 'X-1', caseNo: 'C-FULL-1' }] });
    expect(res.status).toBe(507);
    expect(refusalOf(res)).toMatchObject({ code: 'storage_full', message: expect.stringMatching(/size cap.*nothing is dropped/) });
    expect(w.bridge.status().alarms).toContain('storage_full');
    expect(w.bridge.status().storage.full).toBe(true);
    await waitUntil(() => seen.some((t) => (t as { alarms: string[] }).alarms.includes('storage_full')), 'telemetry with the alarm');

    // What the terminal reports is still stored: a stray press becomes an event at the province.
    await w.terminal.press(0);
    await hall.province.waitFor(() => hall.province.recordsOf(w.terminalId).find((r) => r.kind === 'event'));
    await telemetry.endAsync();
  });

});

describe('storage on disk', () => {
  it('prunes acknowledged records past retention, never pending or quarantined ones', () => {
    const db = openDatabase(join(dir, 'prune.db'));
    let now = Date.parse('2026-01-01T00:00:00Z');
    const clock = new TimeKeeper({ wallMs: () => now, monoMs: () => 1, ntpSynced: async () => true }, 'b', 'system');
    const outbox = new Outbox(db, clock);
    const event = (n: number): StoredEvent => ({
      id: `0190f0a0-0000-7000-8000-${String(n).padStart(12, '0')}`, kind: 'event', schema: 1, terminalId: 'T', areaCode: '330106',
      hallCode: 'H', windowNo: '1', staffId: null, type: 'stray_press', at: new Date(now).toISOString(), detail: {}, flags: [], test: false,
      clock: { synced: true, bootId: 'b', monoMs: 1 },
    });
    for (let n = 1; n <= 4; n++) outbox.append(event(n));
    outbox.settle([{ ids: [event(1).id], status: 'accepted' }], new Date(now));
    outbox.settle([{ ids: [event(2).id], status: 'rejected', reason: 'bad' }], new Date(now));
    outbox.settle([{ ids: [event(3).id], status: 'duplicate' }], new Date(now + 20 * 86_400_000));
    now += 31 * 86_400_000;
    expect(outbox.prune(new Date(now - 30 * 86_400_000))).toBe(1);
    expect(outbox.get(event(1).id)).toBeUndefined();
    expect(outbox.stats()).toMatchObject({ pending: 1, acked: 1, quarantined: 1 });
    db.close();
  });

  it('reports a corrupt database file clearly at start-up and leaves it as it was', () => {
    const path = join(dir, 'corrupt.db');
    writeFileSync(path, 'this is not an SQLite database, it is a shopping list'.repeat(100));
    expect(() => openDatabase(path)).toThrow(DatabaseError);
    expect(() => openDatabase(path)).toThrow(`cannot open database ${path}: file is not a database`);
  });

  it('reports an unwritable database location clearly at start-up', () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    const path = join(locked, 'hcp.db');
    try {
      // root ignores directory permissions; the missing-folder case holds for everyone.
      expect(() => openDatabase(join(dir, 'no', 'such', 'folder', 'hcp.db'))).toThrow(/cannot open database .*hcp\.db: .*directory does not exist/);
      if (process.getuid?.() !== 0) expect(() => openDatabase(path)).toThrow(/cannot open database/);
    } finally {
      chmodSync(locked, 0o700);
    }
  });
});
