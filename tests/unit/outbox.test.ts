import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../bridge/store/database.js';
import { Outbox } from '../../bridge/store/outbox.js';
import { RECORD_SCHEMA_VERSION, type StoredEvent, type StoredRecord } from '../../protocol/records.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';

function rig() {
  const db = openDatabase(':memory:');
  const outbox = new Outbox(db, new TimeKeeper(manualWall(new ManualTimers()), 'boot-1', 'system'));
  const appended: string[] = [];
  const requeued: number[] = [];
  outbox.on('appended', (record: StoredRecord) => appended.push(record.id));
  outbox.on('requeued', (n) => requeued.push(n));
  return { db, outbox, appended, requeued };
}

function event(id: string): StoredEvent {
  return {
    id,
    kind: 'event',
    schema: RECORD_SCHEMA_VERSION,
    terminalId: 'T-1',
    areaCode: '330106',
    hallCode: 'H-1',
    windowNo: '07',
    staffId: null,
    type: 'stray_press',
    at: '2026-03-02T01:00:00.000Z',
    detail: { grade: 'satisfied', device: 'DEV-1' },
    flags: [],
    test: false,
    clock: { synced: true, bootId: 'boot-1', monoMs: 0 },
  };
}

describe('outbox: it announces what it stores', () => {
  it('a record stored on its own is announced at once; one stored again is not', () => {
    const r = rig();
    expect(r.outbox.append(event('a'))).toBe(true);
    expect(r.outbox.append(event('a'))).toBe(false);
    expect(r.appended).toEqual(['a']);
  });

  it('a record stored inside a transaction is announced once that commits, never if it rolls back', async () => {
    const r = rig();
    r.db.transaction(() => {
      r.outbox.append(event('committed'));
      expect(r.appended).toEqual([]);
    })();
    expect(() =>
      r.db.transaction(() => {
        r.outbox.append(event('rolled-back'));
        throw new Error('the closing failed');
      })(),
    ).toThrow('the closing failed');
    await Promise.resolve();
    expect(r.appended).toEqual(['committed']);
    expect(r.outbox.get('rolled-back')).toBeUndefined();
  });

  it('acknowledged records made pending again are announced, with how many', () => {
    const r = rig();
    r.outbox.append(event('a'));
    r.outbox.append(event('b'));
    r.outbox.settle([{ ids: ['a', 'b'], status: 'accepted' }], new Date());
    expect(r.outbox.requeueRange(1, 1)).toBe(1);
    expect(r.outbox.requeueRange(5, 9)).toBe(0);
    expect(r.requeued).toEqual([1]);
  });
});
