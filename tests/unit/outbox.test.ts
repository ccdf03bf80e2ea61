import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../bridge/store/database.js';
import { Outbox } from '../../bridge/store/outbox.js';
import { Commits, StorageFailure } from '../../bridge/store/commits.js';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import type { StoredRecord } from '../../protocol/records.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';
import { strayPress } from '../support/stray-press.js';
import { silentLogger } from '../../bridge/log.js';

function rig() {
  const db = openDatabase(':memory:');
  const outbox = new Outbox(db, new TimeKeeper(manualWall(new ManualTimers()), 'boot-1', 'system'));
  const appended: string[] = [];
  const requeued: number[] = [];
  outbox.on('appended', (record: StoredRecord) => appended.push(record.id));
  outbox.on('requeued', (n) => requeued.push(n));
  return { db, outbox, appended, requeued };
}

describe('outbox: it announces what it stores', () => {
  it('a record stored on its own is announced at once; one stored again is not', () => {
    const r = rig();
    expect(r.outbox.append(strayPress('a'))).toBe(true);
    expect(r.outbox.append(strayPress('a'))).toBe(false);
    expect(r.appended).toEqual(['a']);
  });

  it('a record stored inside a transaction is announced once that commits, never if it rolls back', async () => {
    const r = rig();
    r.db.transaction(() => {
      r.outbox.append(strayPress('committed'));
      expect(r.appended).toEqual([]);
    })();
    expect(() =>
      r.db.transaction(() => {
        r.outbox.append(strayPress('rolled-back'));
        throw new Error('the closing failed');
      })(),
    ).toThrow('the closing failed');
    await Promise.resolve();
    expect(r.appended).toEqual(['committed']);
    expect(r.outbox.get('rolled-back')).toBeUndefined();
  });

  it('acknowledged records made pending again are announced, with how many', () => {
    const r = rig();
    r.outbox.append(strayPress('a'));
    r.outbox.append(strayPress('b'));
    r.outbox.settle([{ ids: ['a', 'b'], status: 'accepted' }], new Date());
    expect(r.outbox.requeueRange(1, 1)).toBe(1);
    expect(r.outbox.requeueRange(5, 9)).toBe(0);
    expect(r.requeued).toEqual([1]);
  });
});

describe('commits on a database that cannot store them', () => {
  it('a full database (SQLITE_FULL for real, by max_page_count): a StorageFailure that says what to do, one fault and one log line per episode, cleared when a commit succeeds', () => {
    const r = rig();
    const logs: string[] = [];
    const logger = pino(new Writable({ write: (line: Buffer, _enc, done) => void (logs.push((JSON.parse(line.toString()) as { msg: string }).msg), done()) }));
    const commits = new Commits(r.db, new TimeKeeper(manualWall(new ManualTimers()), 'boot-1', 'system'), logger);
    const pages = r.db.pragma('page_count', { simple: true }) as number;
    r.db.pragma(`max_page_count = ${pages}`);
    const big = (id: string) => ({ ...strayPress(id), detail: { filler: 'x'.repeat(8192) } });
    for (const id of ['a', 'b']) {
      let thrown: unknown;
      try {
        commits.run(() => r.outbox.append(big(id)));
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(StorageFailure);
      expect(thrown).toMatchObject({ code: 'SQLITE_FULL', message: expect.stringMatching(/SQLITE_FULL.*free space/) });
    }
    expect(commits.fault).toMatchObject({ code: 'SQLITE_FULL', since: expect.any(String) });
    expect(r.outbox.get('a')).toBeUndefined();
    r.db.pragma('max_page_count = 1000000');
    expect(commits.run(() => r.outbox.append(big('a')))).toBe(true);
    expect(commits.fault).toBeNull();
    expect(logs).toEqual(['database commit failed: nothing is acknowledged until commits succeed again', 'database commits succeed again']);
  });

  it('a database that has become read-only: a StorageFailure that says so (the storage_error alarm)', () => {
    const r = rig();
    const commits = new Commits(r.db, new TimeKeeper(manualWall(new ManualTimers()), 'boot-1', 'system'), silentLogger);
    r.db.pragma('query_only = ON');
    expect(() => commits.run(() => r.outbox.append(strayPress('a')))).toThrow(expect.objectContaining({ name: 'StorageFailure', message: expect.stringMatching(/SQLITE_READONLY.*read-only/) }));
    expect(commits.fault?.code).toMatch(/^SQLITE_READONLY/);
  });

  it('any other error is passed on as it is, and is no storage fault', () => {
    const r = rig();
    const commits = new Commits(r.db, new TimeKeeper(manualWall(new ManualTimers()), 'boot-1', 'system'), silentLogger);
    expect(() => commits.run(() => r.db.prepare('SELECT * FROM no_such_table').all())).toThrow(/no such table/);
    expect(commits.fault).toBeNull();
  });
});
