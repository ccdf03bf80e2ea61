import { describe, expect, it } from 'vitest';
import type { StoredInvitation } from '../../protocol/records.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import type { WallSource } from '../../bridge/time/wall-source.js';

/** A machine whose wall clock is wrong by `offsetMs` until NTP says otherwise. */
function machine(trueStartMs: number, offsetMs: number) {
  let mono = 50_000;
  let offset = offsetMs;
  let synced = false;
  const source: WallSource = {
    wallMs: () => trueStartMs + (mono - 50_000) + offset,
    monoMs: () => mono,
    ntpSynced: async () => synced,
  };
  return {
    source,
    advance: (ms: number) => (mono += ms),
    ntpSync: () => ((offset = 0), (synced = true)),
  };
}

const TRUE_START = Date.parse('2026-11-22T09:00:00.000Z');
const YEARS_OFF = -6 * 365 * 24 * 3600 * 1000; // a Pi after a power cut, years behind

function recordAt(keeper: TimeKeeper): StoredInvitation {
  const now = keeper.now().toISOString();
  return {
    id: '01a20394-3444-701f-b8a2-8d5659a29855', kind: 'invitation', schema: 1, terminalId: 'T', areaCode: '330106',
    hallCode: 'H', windowNo: 'A1', staffId: 'S1', services: [{ itemCode: 'I', caseNo: 'C' }], mode: 'single', proxy: false,
    invitedAt: new Date(Date.parse(now) - 4000).toISOString(), closedAt: now, outcome: 'rated',
    rating: { grade: 'satisfied', reasons: [], reasonCatalogVersion: null, pressedAt: new Date(Date.parse(now) - 1000).toISOString(), latencyMs: 3000 },
    channel: 'counter', flags: [], test: false,
    clock: { synced: keeper.isSynced(), bootId: keeper.bootId, monoMs: keeper.monoMs() },
  };
}

describe('TimeKeeper', () => {
  it('corrects a record made before NTP sync from its monotonic stamp', async () => {
    const m = machine(TRUE_START, YEARS_OFF);
    const keeper = new TimeKeeper(m.source, 'boot1', 'ntp');
    const record = recordAt(keeper);
    expect(record.clock.synced).toBe(false);
    m.advance(60_000);
    m.ntpSync(); // the wall clock jumps forward six years
    await keeper.pollNtp();
    const fixed = keeper.forUpstream(record);
    expect(fixed.closedAt).toBe(new Date(TRUE_START).toISOString());
    expect(fixed.invitedAt).toBe(new Date(TRUE_START - 4000).toISOString());
    expect(fixed.rating?.pressedAt).toBe(new Date(TRUE_START - 1000).toISOString());
    expect(fixed.clock.synced).toBe(true);
    expect(fixed.flags).toEqual(['time_corrected']);
  });

  it('anchors on the province serverTime while NTP has not synced', () => {
    const m = machine(TRUE_START, YEARS_OFF);
    const keeper = new TimeKeeper(m.source, 'boot1', 'ntp');
    const record = recordAt(keeper);
    m.advance(10_000);
    keeper.observeServerTime(new Date(TRUE_START + 10_000));
    expect(keeper.isSynced()).toBe(true);
    expect(keeper.now().toISOString()).toBe(new Date(TRUE_START + 10_000).toISOString());
    expect(keeper.forUpstream(record).closedAt).toBe(new Date(TRUE_START).toISOString());
  });

  it('prefers NTP over serverTime once synced', async () => {
    const m = machine(TRUE_START, 0);
    const keeper = new TimeKeeper(m.source, 'boot1', 'ntp');
    m.ntpSync();
    await keeper.pollNtp();
    keeper.observeServerTime(new Date(TRUE_START + 999_999));
    expect(keeper.trustedFrom).toBe('ntp');
    expect(keeper.now().getTime()).toBe(TRUE_START);
  });

  it('flags, and leaves alone, what cannot be corrected: no trusted time yet, or another boot', async () => {
    const m = machine(TRUE_START, YEARS_OFF);
    const keeper = new TimeKeeper(m.source, 'boot2', 'ntp');
    const mine = recordAt(keeper);
    expect(keeper.forUpstream(mine).flags).toEqual(['clock_unsynced']);
    expect(keeper.forUpstream(mine).closedAt).toBe(mine.closedAt);
    m.ntpSync();
    await keeper.pollNtp();
    const older = { ...mine, clock: { ...mine.clock, bootId: 'boot1' } };
    expect(keeper.forUpstream(older)).toMatchObject({ flags: ['clock_unsynced'], closedAt: mine.closedAt, clock: { synced: false } });
  });

  it('trusts the system clock when told to', () => {
    const keeper = new TimeKeeper(machine(TRUE_START, 0).source, 'b', 'system');
    expect(keeper.isSynced()).toBe(true);
    expect(keeper.trustedFrom).toBe('system');
  });
});
