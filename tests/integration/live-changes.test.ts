import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import { ChangeWatch, RECENT_WINDOW_MS, type ChangeSet } from '../../gateway/live/changes.js';
import { gatewayDatabaseEngines } from '../support/db-engines.js';
import { eventually } from '../support/gateway-fixture.js';
import { ManualTimers } from '../support/manual-timers.js';

/**
 * ChangeWatch on both engines: one instance writes (records, a later rating, an alert and its
 * acknowledgement, a follow-up, telemetry, a state), another instance's watch notices, once; a poll
 * with nothing new says nothing.
 */
const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 2 });

const NOW = new Date('2026-11-30T08:00:00Z');
const clock = { now: () => NOW };
let seq = 0;
/** What a poll says when one kind changed. */
const ONLY: Record<keyof ChangeSet, ChangeSet> = {
  records: { records: true, alerts: false, terminals: false },
  alerts: { records: false, alerts: true, terminals: false },
  terminals: { records: false, alerts: false, terminals: true },
};
const id = (): string => `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;

async function insertRecord(db: Database, receivedAt: Date, grade: string | null = 'satisfied'): Promise<string> {
  const recordId = id();
  await db.query(
    `INSERT INTO records (id, terminal_id, seq, kind, schema, seal, test, area_code, hall_code, window_no, staff_id, outcome, grade,
                          occurred_at, closed_at, record, payload, received_at, instance)
     VALUES ($1, 'T-1', $2, 'invitation', 2, 'ok', false, '330106', 'H1', '07', 'S-1', 'rated', $3, $4, $4, '{}'::jsonb, '{}', $4, 'gw-a')`,
    [recordId, seq, grade, receivedAt],
  );
  return recordId;
}

describe.each(engines)('ChangeWatch on $name', (engine) => {
  let db: Database;
  let other: Database;

  beforeAll(async () => {
    db = await engine.open();
    other = await engine.another(db);
  }, 60_000);

  afterAll(async () => {
    if (other !== db) await other?.close();
    await db?.close();
  });

  beforeEach(async () => {
    await db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
    await migrate(db);
    await db.query(`INSERT INTO terminals (terminal_id, status, area_code, hall_code, window_no, first_seen, last_seen, online) VALUES ('T-1', 'approved', '330106', 'H1', '07', $1, $1, true)`, [NOW]);
  });

  /** A watch on the other instance's connection, polled by hand. */
  function watch(): { watch: ChangeWatch; seen: ChangeSet[] } {
    const w = new ChangeWatch({ db: other, clock, timers: new ManualTimers() });
    const seen: ChangeSet[] = [];
    w.on('changed', (c) => seen.push(c));
    return { watch: w, seen };
  }

  /** A watch that has taken the marks. */
  async function watching(): Promise<ChangeWatch> {
    const { watch: w } = watch();
    expect(await w.poll()).toBeUndefined();
    return w;
  }

  it('says nothing on its first poll nor when nothing changed', async () => {
    const { watch: w, seen } = watch();
    await insertRecord(db, NOW);
    expect(await w.poll()).toBeUndefined();
    expect(await w.poll()).toBeUndefined();
    expect(await w.poll()).toBeUndefined();
    expect(seen).toEqual([]);
  });

  it('notices a record, once', async () => {
    const { watch: w, seen } = watch();
    await w.poll();
    await insertRecord(db, NOW);
    expect(await w.poll()).toEqual(ONLY.records);
    expect(await w.poll()).toBeUndefined();
    expect(seen).toEqual([ONLY.records]);
  });

  it('notices a record stamped before the latest (another instance committing late), within the recent window', async () => {
    const { watch: w } = watch();
    await insertRecord(db, NOW);
    await w.poll();
    await insertRecord(db, new Date(NOW.getTime() - RECENT_WINDOW_MS / 2));
    expect(await w.poll()).toEqual(ONLY.records);
    expect(await w.poll()).toBeUndefined();
  });

  it('notices a rating made later on the receipt page', async () => {
    const w = await watching();
    await db.query(
      `INSERT INTO later_ratings (id, terminal_id, invitation_id, case_no, assess_number, grade, receipt_issued_at, rated_at, instance)
       VALUES ($1, 'T-1', 'inv-1', 'C-1', 1, 'satisfied', $2, $2, 'gw-a')`,
      [id(), NOW],
    );
    expect(await w.poll()).toEqual(ONLY.records);
  });

  it('notices an alert raised with a bad review, its acknowledgement, a follow-up and its repeat', async () => {
    const w = await watching();
    await insertRecord(db, NOW, 'very_dissatisfied');
    // The bad review's alert is raised by the trigger, in the same transaction.
    expect(await w.poll()).toEqual({ records: true, alerts: true, terminals: false });
    const { rows } = await db.query<{ id: string }>('SELECT id::text AS id FROM alerts');
    expect(rows).toHaveLength(1);
    await db.query('UPDATE alerts SET notify_count = notify_count + 1, notified_at = $1', [NOW]);
    expect(await w.poll()).toEqual(ONLY.alerts);
    await db.query(`UPDATE alerts SET acknowledged_at = $1, acknowledged_by = 'duty'`, [NOW]);
    expect(await w.poll()).toEqual(ONLY.alerts);
    await db.query(`INSERT INTO follow_up_events (alert_id, at, actor, status, note) VALUES ($1, $2, 'duty', 'called_back', '')`, [rows[0]?.id, NOW]);
    expect(await w.poll()).toEqual(ONLY.alerts);
    expect(await w.poll()).toBeUndefined();
  });

  it('notices a fault alert raised and cleared', async () => {
    const w = await watching();
    await db.query(
      `INSERT INTO alerts (kind, subject, terminal_id, area_code, hall_code, window_no, occurred_at, raised_at) VALUES ('paper_out', 'T-1', 'T-1', '330106', 'H1', '07', $1, $1)`,
      [NOW],
    );
    expect(await w.poll()).toEqual(ONLY.alerts);
    await db.query('UPDATE alerts SET cleared_at = $1', [NOW]);
    expect(await w.poll()).toEqual(ONLY.alerts);
  });

  it('notices telemetry, a state and an approval, even stamped before another terminal\'s latest', async () => {
    await db.query(`INSERT INTO terminals (terminal_id, status, first_seen, last_seen) VALUES ('T-2', 'pending', $1, $1)`, [NOW]);
    const w = await watching();
    // The registry's write: telemetry dated by the bridge's clock, which may be behind.
    await db.query(`UPDATE terminals SET telemetry = '{"desk":{"staffId":"S-1","invitation":null}}'::jsonb, telemetry_at = $1 WHERE terminal_id = 'T-2'`, [new Date(NOW.getTime() - 3_600_000)]);
    expect(await w.poll()).toEqual(ONLY.terminals);
    await db.query(`UPDATE terminals SET online = false WHERE terminal_id = 'T-1'`);
    expect(await w.poll()).toEqual(ONLY.terminals);
    await db.query(`UPDATE terminals SET status = 'approved' WHERE terminal_id = 'T-2'`);
    expect(await w.poll()).toEqual(ONLY.terminals);
    expect(await w.poll()).toBeUndefined();
  });

  it('polls on its timer once started, until stopped; a listener that throws does not stop it', async () => {
    const timers = new ManualTimers();
    const w = new ChangeWatch({ db: other, clock, timers, intervalMs: 1000, logger: { warn: () => undefined } });
    const seen: ChangeSet[] = [];
    w.on('changed', (c) => seen.push(c));
    w.on('changed', () => {
      throw new Error('a listener that throws');
    });
    w.start();
    timers.advance(0);
    await eventually(async () => w.watching, 'the first poll to take the marks');
    await insertRecord(db, NOW);
    timers.advance(999);
    expect(seen).toEqual([]);
    timers.advance(1);
    await eventually(async () => seen.length === 1, 'the change to be noticed');
    expect(seen).toEqual([ONLY.records]);
    // The next poll is armed although the listener threw.
    await insertRecord(db, NOW);
    await eventually(async () => (timers.advance(1000), seen.length === 2), 'the second change to be noticed');
    await w.stop();
    expect(timers.advanceToNext()).toBe(false);
  });

  it('a poll that fails says nothing and is counted', async () => {
    const broken = new ChangeWatch({ db: { query: () => Promise.reject(new Error('down')), exec: () => Promise.resolve() }, clock, timers: new ManualTimers(), logger: { warn: () => undefined } });
    expect(await broken.poll()).toBeUndefined();
    expect(await broken.poll()).toBeUndefined();
    expect(broken.failures).toBe(2);
  });
});
