import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../bridge/config.js';
import { Retention } from '../../bridge/features/retention.js';
import { silentLogger } from '../../bridge/log.js';
import { ReceiptQueue } from '../../bridge/printer/receipt-queue.js';
import type { ReceiptContent } from '../../bridge/printer/receipt-layout.js';
import { Commits } from '../../bridge/store/commits.js';
import { openDatabase } from '../../bridge/store/database.js';
import { AuditLog } from '../../bridge/store/audit.js';
import { Outbox } from '../../bridge/store/outbox.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';
import { strayPress } from '../support/stray-press.js';

const config = parseConfig({
  terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H-1', windowNo: '07' },
  serial: { path: '/dev/ttyUSB0' },
  mqtt: { url: 'mqtt://127.0.0.1:1883' },
  database: { path: '/var/lib/hcp/hcp.db' },
});

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** Every row left in the tables that grow, by table. */
function rows(db: ReturnType<typeof openDatabase>) {
  const ids = (sql: string) => (db.prepare(sql).all() as { id: string }[]).map((r) => r.id);
  return {
    records: ids(`SELECT id || ':' || state AS id FROM records ORDER BY seq`),
    invitedCases: ids(`SELECT case_no AS id FROM invited_cases ORDER BY invited_at`),
    receipts: ids(`SELECT id || ':' || state AS id FROM receipts ORDER BY seq`),
  };
}

function rig(days = 30) {
  const timers = new ManualTimers();
  const db = openDatabase(':memory:');
  const clock = new TimeKeeper(manualWall(timers), 'boot-1', 'system');
  const outbox = new Outbox(db, clock, new Commits(db, clock, silentLogger));
  const queue = new ReceiptQueue(db);
  const cfg = parseConfig({ ...config, database: { path: '/var/lib/hcp/hcp.db', retainAckedDays: days } });
  const receipt = (id: string) => queue.add(id, `inv-${id}`, { printedAt: clock.now() } as unknown as ReceiptContent, clock.now());
  return { timers, db, clock, outbox, queue, receipt, ctx: { outbox, audit: new AuditLog(db), receipts: queue, clock, timers, config: cfg, logger: silentLogger } };
}

describe('retention: every growing table is pruned past database.retainAckedDays, hourly', () => {
  it('acknowledged records, invited case numbers and receipts go; pending and quarantined records stay', () => {
    const r = rig(30);
    r.outbox.append(strayPress('acked'));
    r.outbox.append(strayPress('rejected'));
    r.outbox.append(strayPress('pending'));
    r.outbox.settle([{ ids: ['acked'], status: 'accepted' }, { ids: ['rejected'], status: 'rejected', reason: 'bad' }], r.clock.now());
    r.outbox.noteInvitedCases(['CASE-OLD'], r.clock.now());
    r.receipt('printed-old');
    r.queue.markPrinted('printed-old', r.clock.now());
    r.receipt('never-printed');
    const retention = new Retention(r.ctx);
    retention.start();
    const everything = rows(r.db);
    expect(everything.records).toEqual(['acked:acked', 'rejected:quarantined', 'pending:pending']);

    r.timers.advance(29 * DAY);
    r.outbox.noteInvitedCases(['CASE-NEW'], r.clock.now());
    r.receipt('recent');
    // Day 30 less an hour: nothing is old enough yet.
    r.timers.advance(DAY - HOUR);
    expect(rows(r.db)).toEqual({ ...everything, invitedCases: ['CASE-OLD', 'CASE-NEW'], receipts: [...everything.receipts, 'recent:pending'] });

    // The first hourly run past 30 days.
    r.timers.advance(2 * HOUR);
    expect(rows(r.db)).toEqual({ records: ['rejected:quarantined', 'pending:pending'], invitedCases: ['CASE-NEW'], receipts: ['recent:pending'] });
    retention.stop();
    r.timers.advance(60 * DAY);
    expect(rows(r.db).receipts).toEqual(['recent:pending']);
  });

  it('a table whose prune fails for another reason is logged; the others are still pruned and the timer lives on', () => {
    const r = rig(0);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    r.outbox.append(strayPress('acked'));
    r.outbox.settle([{ ids: ['acked'], status: 'accepted' }], r.clock.now());
    const broken = { prune: () => {
      throw new Error('disk image is malformed');
    } };
    const retention = new Retention({ ...r.ctx, logger, receipts: broken });
    r.timers.advance(1);
    expect(() => retention.start()).not.toThrow();
    expect(rows(r.db).records).toEqual([]);
    expect(lines.join('')).toContain('"what":"receipts"');
    expect(lines.join('')).toContain('disk image is malformed');
    expect(() => r.timers.advance(HOUR)).not.toThrow();
    retention.stop();
  });
});

describe('retention feature', () => {
  it('a database that refuses even a delete is a storage fault, not a crash from its timer; pruning resumes when it can write', () => {
    const timers = new ManualTimers();
    const db = openDatabase(':memory:');
    const clock = new TimeKeeper(manualWall(timers), 'boot-1', 'system');
    const commits = new Commits(db, clock, silentLogger);
    const retention = new Retention({ outbox: new Outbox(db, clock, commits), audit: new AuditLog(db), clock, timers, config, logger: silentLogger });
    db.pragma('query_only = ON');
    expect(() => retention.start()).not.toThrow();
    expect(commits.fault?.code).toMatch(/^SQLITE_READONLY/);
    db.pragma('query_only = OFF');
    expect(() => timers.advance(60 * 60 * 1000)).not.toThrow();
    expect(commits.fault).toBeNull();
    retention.stop();
  });
});
