import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { BridgeEvents } from '../../bridge/bridge-events.js';
import { parseConfig } from '../../bridge/config.js';
import { Audit } from '../../bridge/features/audit.js';
import { silentLogger } from '../../bridge/log.js';
import { AUDIT_RETENTION_DAYS, AuditLog } from '../../bridge/store/audit.js';
import { Commits } from '../../bridge/store/commits.js';
import { openDatabase } from '../../bridge/store/database.js';
import { Outbox } from '../../bridge/store/outbox.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const config = parseConfig({
  terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H-1', windowNo: '07' },
  serial: { path: '/dev/ttyUSB0' },
  mqtt: { url: 'mqtt://localhost:1883' },
  database: { path: '/var/lib/hcp/hcp.db' },
});

function rig() {
  const db = openDatabase(':memory:');
  const clock = new TimeKeeper(manualWall(new ManualTimers()), 'boot-1', 'system');
  const commits = new Commits(db, clock, silentLogger);
  const audit = new AuditLog(db);
  const outbox = new Outbox(db, clock, commits);
  const events = new EventEmitter<BridgeEvents>();
  let n = 0;
  const feature = new Audit({ events, config, clock, logger: silentLogger, audit, outbox, transaction: (fn) => commits.run(fn), newId: () => `ev-${++n}` });
  return { db, audit, outbox, events, feature };
}

/** Real time, as SQLite's trigger reads it. */
const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS);

describe('the audit table is append-only', () => {
  it('refuses UPDATE of any entry, whoever runs the SQL', () => {
    const { db, audit } = rig();
    audit.append({ action: 'cancel', actor: 'S1001', detail: { invitation: 'inv-1', reason: 'citizen_left' } }, daysAgo(1), 'ev-1');
    expect(() => db.prepare(`UPDATE audit SET actor = 'S9999'`).run()).toThrow(/audit entries are never changed/);
    expect(() => db.prepare(`UPDATE audit SET at = '2000-01-01T00:00:00.000Z'`).run()).toThrow(/never changed/);
    expect(audit.latest(5)).toEqual([expect.objectContaining({ actor: 'S1001', detail: { invitation: 'inv-1', reason: 'citizen_left' } })]);
  });

  it(`refuses DELETE of an entry younger than ${AUDIT_RETENTION_DAYS} days; the prune takes only the older`, () => {
    const { db, audit } = rig();
    audit.append({ action: 'sign_in', actor: 'S1', detail: {} }, daysAgo(AUDIT_RETENTION_DAYS + 30), 'ev-old');
    audit.append({ action: 'sign_in', actor: 'S2', detail: {} }, daysAgo(AUDIT_RETENTION_DAYS - 30), 'ev-young');
    expect(() => db.prepare(`DELETE FROM audit WHERE actor = 'S2'`).run()).toThrow(`audit entries are kept ${AUDIT_RETENTION_DAYS} days`);
    expect(() => db.prepare(`DELETE FROM audit`).run()).toThrow(/kept/); // all or nothing: the old one stays too
    expect(audit.latest(5)).toHaveLength(2);
    // A bridge clock a year ahead still prunes only what the database agrees is old.
    expect(audit.prune(new Date(Date.now() + 365 * DAY_MS))).toBe(1);
    expect(audit.latest(5).map((e) => e.actor)).toEqual(['S2']);
  });
});

describe('the audit feature', () => {
  it('appends each staffAction to the audit and, in the same commit, a staff_action event to the outbox; never a grade', () => {
    const { events, feature, audit, outbox } = rig();
    feature.start();
    events.emit('staffAction', { action: 'reprint', actor: 'S1001', detail: { invitation: 'inv-7', grade: 'dissatisfied' } });
    const [entry] = audit.latest(5);
    expect(entry).toMatchObject({ action: 'reprint', actor: 'S1001', detail: { invitation: 'inv-7' }, recordId: 'ev-1' });
    expect(outbox.get('ev-1')?.record).toMatchObject({
      kind: 'event',
      type: 'staff_action',
      terminalId: 'T-1',
      staffId: null,
      test: false,
      detail: { action: 'reprint', actor: 'S1001', invitation: 'inv-7' },
    });
    expect(JSON.stringify(outbox.get('ev-1'))).not.toContain('dissatisfied');
    feature.stop();
    events.emit('staffAction', { action: 'sign_out', actor: 'S1001', detail: {} });
    expect(audit.latest(5)).toHaveLength(1);
  });

  it('a detail cannot pass itself off as the action or the actor', () => {
    const { events, feature, outbox } = rig();
    feature.start();
    events.emit('staffAction', { action: 'cancel', actor: 'S1', detail: { action: 'sign_in', actor: 'someone else' } });
    expect(outbox.get('ev-1')?.record).toMatchObject({ detail: { action: 'cancel', actor: 'S1' } });
  });

  it('when the disk refuses the commit, neither the entry nor the event is stored, and nothing throws at the emitter', () => {
    const { db, events, feature, audit, outbox } = rig();
    feature.start();
    db.pragma('query_only = ON');
    expect(() => events.emit('staffAction', { action: 'selftest', actor: null, detail: { passed: true } })).not.toThrow();
    db.pragma('query_only = OFF');
    expect(audit.latest(5)).toEqual([]);
    expect(outbox.stats().pending).toBe(0);
  });
});
