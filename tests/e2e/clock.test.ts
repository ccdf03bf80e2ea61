import { describe, expect, it } from 'vitest';
import type { WallSource } from '../../bridge/time/wall-source.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall } from '../support/hall-fixture.js';

/**
 * A Raspberry Pi after a power cut: no RTC, so its wall clock starts years behind until NTP
 * syncs (or the province tells it the time). Records made meanwhile must end up with true times.
 */
const SIX_YEARS_MS = 6 * 365 * 24 * 3600 * 1000;

function pi(ntp: 'no' | 'cannot say' = 'no'): WallSource & { sync(): void } {
  let offset = -SIX_YEARS_MS;
  let synced: boolean | undefined = ntp === 'no' ? false : undefined;
  return {
    wallMs: () => Date.now() + offset,
    monoMs: () => performance.now(),
    ntpSynced: async () => synced,
    sync: () => ((offset = 0), (synced = true)),
  };
}


const nearNow = (iso: string | undefined): boolean => Math.abs(Date.parse(iso ?? '') - Date.now()) < 30_000;

describe.each(BROKERS)('honest time ($name broker)', (kind) => {
  const halls = useHall(kind);

  // A receiver that does not answer time probes: the clock waits for NTP or a record's ack.
  const noTimeProbes = { answerTimeProbes: false };

  it('holds records made before NTP sync, then corrects them when the clock jumps to the right time', async () => {
    const hall = await halls.start(noTimeProbes);
    const wall = pi();
    const w = await hall.window({ config: { clock: { trust: 'ntp', holdUnsyncedSeconds: 600 } }, bridgeDeps: { wall } });
    expect(w.bridge.status().alarms).toContain('clock_unsynced');
    const id = await hall.serve(w, 'C-CLOCK-1', 3);
    await waitUntil(() => w.bridge.status().broker.heldForClock === 1, 'the record to be held for a trusted clock');
    expect(hall.province.recordsOf(w.terminalId)).toHaveLength(0);
    const stored = w.bridge.outbox.get(id)?.record;
    expect(stored?.kind === 'invitation' && stored.closedAt.startsWith(String(new Date().getFullYear() - 6))).toBe(true);

    wall.sync(); // NTP steps the wall clock six years forward
    await w.bridge.clock.pollNtp();
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ clock: { synced: true }, flags: ['no_reason', 'time_corrected'] }); // 不满意 with no catalogue: no_reason
    expect(record?.kind === 'invitation' && nearNow(record.closedAt) && nearNow(record.invitedAt) && nearNow(record.rating?.pressedAt)).toBe(true);
    expect(w.bridge.status().alarms).not.toContain('clock_unsynced');
    expect(w.bridge.status().clock.trustedFrom).toBe('ntp');
  });

  it('with no NTP, sends flagged after the hold, and takes the time from the province ack', async () => {
    const hall = await halls.start(noTimeProbes);
    const wall = pi(); // never synced by NTP
    const w = await hall.window({ config: { clock: { trust: 'ntp', holdUnsyncedSeconds: 0 } }, bridgeDeps: { wall } });
    const first = await hall.serve(w, 'C-CLOCK-2', 0);
    await hall.expectExactlyOnce(w, [first]);
    // The window's first record (staff signing in, in the audit) left before any ack could anchor the clock.
    const [flagged] = hall.province.recordsOf(w.terminalId);
    expect(flagged).toMatchObject({ clock: { synced: false }, flags: ['clock_unsynced'] });
    expect(nearNow(flagged?.kind === 'invitation' ? flagged.closedAt : flagged!.at)).toBe(false);

    await waitUntil(() => w.bridge.status().clock.trustedFrom === 'province', 'the ack serverTime to anchor the clock');
    await waitUntil(() => w.bridge.desk.current() === undefined && w.terminal.core.state === 'idle', 'the terminal to be idle');
    const second = await hall.serve(w, 'C-CLOCK-3', 1);
    const [honest] = await hall.expectExactlyOnce(w, [second]);
    expect(honest).toMatchObject({ clock: { synced: true }, flags: [] });
    expect(honest?.kind === 'invitation' && nearNow(honest.closedAt)).toBe(true);
  });

  it('where the OS cannot say (no timedatectl), the province answers the time probe on connecting: nothing is held', async () => {
    const hall = await halls.start();
    const wall = pi('cannot say');
    const w = await hall.window({ config: { clock: { trust: 'ntp' } }, bridgeDeps: { wall } }); // the default 300 s hold
    await waitUntil(() => w.bridge.status().clock.trustedFrom === 'province', 'the answer to the time probe to anchor the clock');
    const id = await hall.serve(w, 'C-CLOCK-4', 0);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ clock: { synced: true }, flags: [] });
    expect(record?.kind === 'invitation' && nearNow(record.closedAt)).toBe(true);
    expect(hall.province.stats.timeProbes).toBe(1);
    expect(w.bridge.status().broker).toMatchObject({ heldForClock: 0, unexpectedAcks: 0 });
  });
});
