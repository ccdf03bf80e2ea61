import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../bridge/store/database.js';
import { Outbox } from '../../bridge/store/outbox.js';
import type { StoredRecord } from '../../protocol/records.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';
import { strayPress } from '../support/stray-press.js';

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
