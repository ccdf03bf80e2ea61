import { describe, expect, it } from 'vitest';
import { CANCEL_GRACE_MS } from '../../bridge/desk/invitation-desk.js';
import type { CancelReason } from '../../protocol/cancel-reasons.js';
import type { InvitationRecord, UpstreamRecord } from '../../protocol/records.js';
import { SAMPLE_PROVINCE_CONFIG } from '../../simulator/province.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall, type HallFixture } from '../support/hall-fixture.js';

/*
 * What the citizen did is the outcome (ARCHITECTURE invariant 3), through the whole chain: a real
 * virtual terminal on its cable, the real bridge, the province emulator. Staff cancel at every
 * moment of an invitation, and with the cable out; each invitation ends with exactly one outcome
 * at the province, and a press is never lost to a cancel.
 */
const halls = useHall(BROKERS[0]!);

const cancel = (w: SimWindow, id: string, reason: CancelReason = 'citizen_left') => w.api('POST', `/api/v1/invitations/${id}/cancel`, { reason });

/** The one outcome the province holds for invitation `id` (its own record, or the record that superseded it). */
async function outcomeAt(hall: HallFixture, w: SimWindow, id: string, until: (r: InvitationRecord) => boolean = () => true): Promise<InvitationRecord> {
  const outcomes = (): InvitationRecord[] =>
    hall.province.recordsOf(w.terminalId).filter((r): r is InvitationRecord => r.kind === 'invitation' && (r.id === id || r.supersedes === id));
  const [outcome] = await hall.province.waitFor(() => {
    const found = outcomes();
    return found.length > 0 && found.every(until) && found;
  }, { timeoutMs: 20_000 });
  expect(outcomes(), `invitation ${id}: one outcome at the province`).toHaveLength(1);
  return outcome!;
}

/** A window whose province has sent its reason catalogue (so 差评 offers reasons). */
async function windowWithReasons(hall: HallFixture, invitation: Record<string, number> = {}): Promise<SimWindow> {
  const w = await hall.window({ config: { invitation } });
  await hall.province.publishConfig(w.terminalId, SAMPLE_PROVINCE_CONFIG);
  await waitUntil(() => w.bridge.status().reasonCatalog !== null, 'the reason catalogue');
  return w;
}

describe('outcome races: staff cancel versus the citizen\'s press', () => {
  it('cancel before any press: cancelled, with the reason, confirmed by the terminal', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await hall.serve(w, 'C-RACE-1', null);
    expect((await cancel(w, id, 'wrong_case')).status).toBe(202);
    const outcome = await outcomeAt(hall, w, id);
    expect(outcome).toMatchObject({ outcome: 'cancelled', cancelReason: 'wrong_case', flags: [], device: `SIM-${w.terminalId}` });
    expect(w.terminal.core.state).toBe('idle');
  });

  it.each([
    ['the press set off first', true],
    ['the cancel set off first', false],
  ])('cancel at the press (%s): one outcome; a press the terminal took is the rating, one it did not is kept as a stray press', async (_order, pressFirst) => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await hall.serve(w, 'C-RACE-2', null);
    const both = pressFirst ? [w.terminal.press(1), cancel(w, id)] : [cancel(w, id), w.terminal.press(1)];
    await Promise.all(both);
    const outcome = await outcomeAt(hall, w, id);
    if (outcome.outcome === 'rated') {
      expect(outcome).toMatchObject({ rating: { grade: 'satisfied' }, flags: [] });
      expect(outcome).not.toHaveProperty('cancelReason');
    } else {
      // The terminal took the cancel first: its buttons were dark, and the press is recorded as stray.
      expect(outcome).toMatchObject({ outcome: 'cancelled', cancelReason: 'citizen_left' });
      await hall.province.waitFor(() => hall.province.recordsOf(w.terminalId).find((r) => r.kind === 'event' && r.type === 'stray_press' && r.detail.grade === 'satisfied'));
    }
  });

  it('cancel during reason selection: the bridge waits past its cancel grace for the live terminal, and the rating with its reason stands', async () => {
    const hall = await halls.start();
    const w = await windowWithReasons(hall, { reasonTimeoutSeconds: 20 });
    const id = await hall.serve(w, 'C-RACE-3', 3);
    await waitUntil(() => w.terminal.core.state === 'reason', 'the reason step');
    expect((await cancel(w, id)).status).toBe(202);
    // Proving that nothing happens needs time to pass: longer than the grace the old desk gave a cancel.
    await new Promise((resolve) => setTimeout(resolve, CANCEL_GRACE_MS + 1000));
    expect(w.bridge.desk.current()?.id).toBe(id);
    expect(w.terminal.core.state).toBe('reason');
    await w.terminal.press(1);
    const outcome = await outcomeAt(hall, w, id);
    expect(outcome).toMatchObject({ outcome: 'rated', flags: [], rating: { grade: 'dissatisfied', reasons: ['R02'] } });
    expect(outcome).not.toHaveProperty('cancelReason');
  });

  it('cancel during reason selection, no reason chosen in time: the bad grade stands, flagged no_reason', async () => {
    const hall = await halls.start();
    const w = await windowWithReasons(hall, { reasonTimeoutSeconds: 2 });
    const id = await hall.serve(w, 'C-RACE-4', 4);
    await waitUntil(() => w.terminal.core.state === 'reason', 'the reason step');
    expect((await cancel(w, id)).status).toBe(202);
    const outcome = await outcomeAt(hall, w, id);
    expect(outcome).toMatchObject({ outcome: 'rated', flags: ['no_reason'], rating: { grade: 'very_dissatisfied', reasons: [] } });
  });

  it('cancel after the thanks: refused 409 invitation_closed, the rating stands', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await hall.serve(w, 'C-RACE-5', 0);
    await waitUntil(() => w.bridge.desk.current() === undefined, 'the rating');
    expect(await cancel(w, id)).toMatchObject({ status: 409, body: { error: { code: 'invitation_closed' } } });
    expect(await outcomeAt(hall, w, id)).toMatchObject({ outcome: 'rated', rating: { grade: 'very_satisfied' } });
  });

  it('cancel with the cable out, back soon: the cancel is carried out when the terminal hears it', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await hall.serve(w, 'C-RACE-6', null);
    await w.terminal.unplug();
    expect((await cancel(w, id)).status).toBe(202);
    await w.terminal.plug();
    const outcome = await outcomeAt(hall, w, id);
    expect(outcome).toMatchObject({ outcome: 'cancelled', cancelReason: 'citizen_left' });
    await waitUntil(() => w.terminal.core.state === 'idle', 'the terminal to take the cancel');
  });

  it('cancel with the cable out long enough to close it: the press made meanwhile wins, reconciled into one outcome at the province', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await hall.serve(w, 'C-RACE-7', null);
    await w.terminal.unplug();
    await w.terminal.press(0); // journaled on the terminal, resent until the bridge acknowledges it
    expect((await cancel(w, id)).status).toBe(202);
    const closed = await outcomeAt(hall, w, id);
    expect(closed).toMatchObject({ id, outcome: 'cancelled', cancelReason: 'citizen_left', flags: ['device_silent'], device: null });
    await w.terminal.plug();
    const outcome = await outcomeAt(hall, w, id, (r) => r.outcome === 'rated');
    expect(outcome).toMatchObject({ supersedes: id, outcome: 'rated', flags: ['reconciled'], rating: { grade: 'very_satisfied' }, device: `SIM-${w.terminalId}` });
    expect(outcome.id).not.toBe(id);
  });

  it('a silent terminal\'s late report after the bridge closed its invitation: reconciled, not an uncounted event', async () => {
    const hall = await halls.start();
    const w = await hall.window({ config: { invitation: { timeoutSeconds: 3, deviceGraceSeconds: 0, reasonTimeoutSeconds: 1 } } });
    const id = await hall.serve(w, 'C-RACE-8', null);
    await w.terminal.unplug();
    await w.terminal.press(1);
    expect(await outcomeAt(hall, w, id)).toMatchObject({ outcome: 'not_rated', flags: ['device_silent'], device: null });
    await w.terminal.plug();
    const outcome = await outcomeAt(hall, w, id, (r) => r.outcome === 'rated');
    expect(outcome).toMatchObject({ supersedes: id, flags: ['reconciled'], rating: { grade: 'satisfied' } });
    const records: UpstreamRecord[] = hall.province.recordsOf(w.terminalId);
    expect(records.filter((r) => r.kind === 'event' && r.type === 'late_device_report')).toEqual([]);
    const today = (await w.api('GET', '/api/v1/stats/today')).body;
    expect(today).toMatchObject({ invitations: 1, rated: 1, notRated: 0, participationRate: 1 });
  });
});
