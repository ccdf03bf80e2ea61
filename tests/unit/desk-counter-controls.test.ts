import { describe, expect, it } from 'vitest';
import { DeskError, InvitationDesk, STORAGE_RETRY_MS, type InvitationDeskOptions } from '../../bridge/desk/invitation-desk.js';
import type { OfferedReason } from '../../bridge/bridge-events.js';
import { StorageFailure } from '../../bridge/store/commits.js';
import type { TerminalInfo } from '../../bridge/terminal/terminal-link.js';
import type { StoredEvent, StoredInvitation } from '../../protocol/records.js';
import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import { CATALOG, deskParts, REASON_MS, RULES } from '../support/desk-options.js';

/** The staff controls at the counter (暂停服务) and the customer screen's touches, on a desk with manual timers. */
function rig(overrides: Partial<InvitationDeskOptions> = {}) {
  const { timers, db, sent, options: base } = deskParts();
  const options: InvitationDeskOptions = { ...base, sendPause: (active) => void sent.push(`pause ${active}`), ...overrides };
  const desk = new InvitationDesk(options);
  const closed: StoredInvitation[] = [];
  const events: StoredEvent[] = [];
  const actions: StaffActionEntry[] = [];
  const choosing: Array<{ invitationId: string; reasons: OfferedReason[]; via: string }> = [];
  const paused: Array<{ paused: boolean; actor: string | null }> = [];
  desk.on('closed', (record) => closed.push(record));
  desk.on('event', (event) => events.push(event));
  desk.on('staffAction', (entry) => actions.push(entry));
  desk.on('choosing', (offer) => choosing.push(offer));
  desk.on('paused', (change) => paused.push(change));
  desk.signIn('S-1');
  const terminal: TerminalInfo = { serial: 'DEV-1', fw: '1.0.0', boot: 'b1', proto: 1, pending: [] };
  let seq = 0;
  const rating = (inv: string, grade: 'satisfied' | 'dissatisfied', reason: number | null = null) =>
    desk.onTerminalReport({ type: 'rating', seq: ++seq, inv, grade, latencyMs: 2000, reason }, terminal);
  const cancelled = (inv: string) => desk.onTerminalReport({ type: 'cancelled', seq: ++seq, inv }, terminal);
  const invite = (caseNo = 'C-1'): string => desk.invite({ services: [{ itemCode: 'I-1', caseNo }], mode: 'single', proxy: false, test: false }).id;
  /** The bridge restarted: this desk stopped, a new one on the same database, with what it closes. */
  const restart = (): { desk: InvitationDesk; closed: StoredInvitation[] } => {
    desk.stop();
    const again = new InvitationDesk(options);
    const closedAgain: StoredInvitation[] = [];
    again.on('closed', (record) => closedAgain.push(record));
    return { desk: again, closed: closedAgain };
  };
  return { desk, timers, db, options, sent, closed, events, actions, choosing, paused, terminal, rating, cancelled, invite, restart };
}

const LABELLED: OfferedReason[] = CATALOG.reasons.map(({ code, label }, button) => ({ button, code, label }));

function refusal(fn: () => unknown): { status: number; code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof DeskError) return { status: err.status, code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a DeskError');
}

describe('desk: pause (暂停服务)', () => {
  it('pauses and resumes: told to the terminal, announced, audited as pause / resume with the actor; kept across a restart', () => {
    const r = rig();
    r.desk.setPaused(true, 'S-1');
    expect(r.desk.paused).toBe(true);
    expect(r.sent).toEqual(['pause true']);
    expect(r.paused).toEqual([{ paused: true, actor: 'S-1' }]);
    expect(r.actions.at(-1)).toEqual({ action: 'pause', actor: 'S-1', detail: { windowNo: '07' } });
    // A restart keeps it: the new desk reads it from the database.
    expect(new InvitationDesk(r.options).paused).toBe(true);
    r.desk.setPaused(false, null);
    expect(r.desk.paused).toBe(false);
    expect(r.sent).toEqual(['pause true', 'pause false']);
    expect(r.actions.at(-1)).toEqual({ action: 'resume', actor: null, detail: { windowNo: '07' } });
  });

  it('asking for the state the window is in changes nothing and announces nothing', () => {
    const r = rig();
    r.desk.setPaused(false, 'S-1');
    r.desk.setPaused(true, 'S-1');
    r.desk.setPaused(true, 'S-1');
    expect(r.sent).toEqual(['pause true']);
    expect(r.paused).toHaveLength(1);
  });

  it('an invitation while paused is refused 409 window_paused, and nothing is sent', () => {
    const r = rig();
    r.desk.setPaused(true, 'S-1');
    expect(refusal(() => r.invite())).toMatchObject({ status: 409, code: 'window_paused', message: expect.stringContaining('resume') });
    expect(r.desk.current()).toBeUndefined();
    r.desk.setPaused(false, 'S-1');
    expect(r.invite()).toBeTruthy();
  });

  it('pausing with an invitation open is refused 409 invitation_open; after its outcome it pauses', () => {
    const r = rig();
    const inv = r.invite();
    expect(refusal(() => r.desk.setPaused(true, 'S-1'))).toMatchObject({ status: 409, code: 'invitation_open', message: expect.stringContaining(inv) });
    expect(r.desk.paused).toBe(false);
    expect(r.actions.map((a) => a.action)).toEqual(['sign_in', 'invite']);
    r.rating(inv, 'satisfied');
    r.desk.setPaused(true, 'S-1');
    expect(r.desk.paused).toBe(true);
  });

  it('every hello of the terminal is answered with the pause while paused (its pause lasts one session)', () => {
    const r = rig();
    r.desk.resume(r.terminal);
    expect(r.sent).toEqual([]);
    r.desk.setPaused(true, 'S-1');
    r.desk.resume(r.terminal);
    r.desk.resume(r.terminal);
    expect(r.sent).toEqual(['pause true', 'pause true', 'pause true']);
  });

  it('a database that cannot store the pause refuses it 507, and nothing is sent', () => {
    const r = rig();
    r.options.transaction = () => {
      throw new StorageFailure('SQLITE_FULL', 'database or disk is full');
    };
    expect(refusal(() => r.desk.setPaused(true, 'S-1'))).toMatchObject({ status: 507, code: 'storage_full' });
    expect(r.desk.paused).toBe(false);
    expect(r.sent).toEqual([]);
  });
});

describe('desk: the terminal offers reasons (its choosing frame)', () => {
  it('is announced with the labels of the catalogue the invitation offered, via terminal; once, and only for the open invitation', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.onTerminalChoosing('someone-else', 2);
    r.desk.onTerminalChoosing(inv, 2);
    r.desk.onTerminalChoosing(inv, 2);
    expect(r.choosing).toEqual([{ invitationId: inv, reasons: LABELLED, via: 'terminal' }]);
  });

  it('offers only as many as the terminal shows', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.onTerminalChoosing(inv, 1);
    expect(r.choosing[0]?.reasons).toEqual(LABELLED.slice(0, 1));
  });
});

describe('desk: the customer screen rates as the buttons do', () => {
  it('a good grade is rated at once: channel screen, no device, honesty flags as for a press; the terminal is sent a cancel', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(RULES.minPressMs - 1);
    expect(r.desk.screenPress(inv, 'very_satisfied')).toEqual({ reasons: [] });
    expect(r.closed).toEqual([
      expect.objectContaining({ id: inv, outcome: 'rated', channel: 'screen', device: null, flags: ['fast_press'], rating: expect.objectContaining({ grade: 'very_satisfied', latencyMs: RULES.minPressMs - 1 }) }),
    ]);
    expect(r.sent).toEqual([`invite ${inv}`, `cancel ${inv}`]);
  });

  it("the terminal's answering cancel is expected: counted, no event, no second outcome; its press after the screen's is counted and ignored", () => {
    const r = rig();
    const first = r.invite('C-1');
    r.timers.advance(2000);
    r.desk.screenPress(first, 'satisfied');
    r.cancelled(first);
    r.cancelled(first);
    const second = r.invite('C-2');
    r.timers.advance(2000);
    r.desk.screenPress(second, 'satisfied');
    r.rating(second, 'dissatisfied', 0);
    expect(r.closed.map((c) => [c.id, c.channel, c.rating?.grade])).toEqual([
      [first, 'screen', 'satisfied'],
      [second, 'screen', 'satisfied'],
    ]);
    expect(r.events).toEqual([]);
    expect(r.desk.counters).toEqual({ screenPressesIgnored: 0, terminalPressesIgnored: 1, terminalCancelsAfterScreen: 2 });
  });

  it('a screen press after the terminal rated is refused 409 and counted, never a second rating', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(2000);
    r.rating(inv, 'satisfied');
    expect(refusal(() => r.desk.screenPress(inv, 'very_dissatisfied'))).toMatchObject({ status: 409, code: 'invitation_closed' });
    expect(r.closed).toHaveLength(1);
    expect(r.closed[0]?.channel).toBe('counter');
    expect(r.desk.counters.screenPressesIgnored).toBe(1);
  });

  it('a screen press while the terminal is choosing a reason (its press came first) is refused and counted', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.onTerminalChoosing(inv, 2);
    expect(refusal(() => r.desk.screenPress(inv, 'very_satisfied'))).toMatchObject({ status: 409, message: expect.stringContaining('on the terminal') });
    r.rating(inv, 'dissatisfied', 1);
    expect(r.closed).toEqual([expect.objectContaining({ channel: 'counter', rating: expect.objectContaining({ grade: 'dissatisfied', reasons: ['R2'] }) })]);
    expect(r.desk.counters.screenPressesIgnored).toBe(1);
  });

  it('a bad grade offers the catalogue (choosing via screen); the reason chosen closes it with the reason code', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(3000);
    expect(r.desk.screenPress(inv, 'dissatisfied')).toEqual({ reasons: LABELLED });
    expect(r.choosing).toEqual([{ invitationId: inv, reasons: LABELLED, via: 'screen' }]);
    expect(r.sent).toEqual([`invite ${inv}`, `cancel ${inv}`]);
    // The terminal confirms the cancel: expected, the invitation stays open for its reason.
    r.cancelled(inv);
    expect(r.closed).toEqual([]);
    // A second touch of a grade is one press too many.
    expect(refusal(() => r.desk.screenPress(inv, 'very_satisfied')).code).toBe('invitation_closed');
    r.timers.advance(1000);
    r.desk.screenReason(inv, 1);
    expect(r.closed).toEqual([
      expect.objectContaining({ channel: 'screen', flags: [], rating: expect.objectContaining({ grade: 'dissatisfied', reasons: ['R2'], reasonCatalogVersion: CATALOG.version, latencyMs: 3000 }) }),
    ]);
    expect(r.desk.counters).toEqual({ screenPressesIgnored: 1, terminalPressesIgnored: 0, terminalCancelsAfterScreen: 1 });
  });

  it('a skipped reason: rated without one, flagged no_reason and reason_skipped', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(2000);
    r.desk.screenPress(inv, 'very_dissatisfied');
    r.desk.screenReason(inv, null);
    expect(r.closed[0]).toMatchObject({ outcome: 'rated', channel: 'screen', flags: ['no_reason', 'reason_skipped'], rating: { reasons: [] } });
  });

  it('no reason in time: rated without one at the reason timeout, flagged no_reason, as the terminal does; no backstop closes it meanwhile', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(29_000);
    r.desk.screenPress(inv, 'dissatisfied');
    r.timers.advance(REASON_MS - 1);
    expect(r.closed).toEqual([]);
    r.timers.advance(1);
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'rated', channel: 'screen', flags: ['no_reason'] })]);
    r.timers.advance(10 * 60_000);
    expect(r.closed).toHaveLength(1);
  });

  it('a reason that was not offered is refused 400, and the reason can still be chosen', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(2000);
    r.desk.screenPress(inv, 'dissatisfied');
    expect(refusal(() => r.desk.screenReason(inv, CATALOG.reasons.length))).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(refusal(() => r.desk.screenReason(inv, 0.5)).status).toBe(400);
    r.desk.screenReason(inv, 0);
    expect(r.closed[0]?.rating?.reasons).toEqual(['R1']);
  });

  it('a reason with no bad grade waiting, for an unknown or a closed invitation: refused, nothing stored', () => {
    const r = rig();
    const inv = r.invite();
    expect(refusal(() => r.desk.screenReason(inv, 0))).toMatchObject({ status: 409, code: 'invitation_open' });
    expect(refusal(() => r.desk.screenReason('nope', 0))).toMatchObject({ status: 404, code: 'not_found' });
    expect(refusal(() => r.desk.screenPress('nope', 'satisfied'))).toMatchObject({ status: 404, code: 'not_found' });
    r.timers.advance(2000);
    r.desk.screenPress(inv, 'satisfied');
    expect(refusal(() => r.desk.screenReason(inv, 0))).toMatchObject({ status: 409, code: 'invitation_closed' });
    expect(r.closed).toHaveLength(1);
  });

  it('without a catalogue a bad grade is rated at once, flagged no_reason', () => {
    const r = rig({ reasonCatalog: () => null });
    const inv = r.invite();
    r.timers.advance(2000);
    expect(r.desk.screenPress(inv, 'very_dissatisfied')).toEqual({ reasons: [] });
    expect(r.closed[0]).toMatchObject({ channel: 'screen', flags: ['no_reason'] });
  });

  it('staff cannot cancel a bad grade waiting for its reason on the screen; a screen press after a staff cancel is refused', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(2000);
    r.desk.screenPress(inv, 'dissatisfied');
    expect(refusal(() => r.desk.cancel(inv, 'citizen_left'))).toMatchObject({ status: 409, code: 'invitation_closed' });
    r.desk.screenReason(inv, 0);
    const next = r.invite('C-2');
    r.desk.cancel(next, 'citizen_left');
    expect(refusal(() => r.desk.screenPress(next, 'satisfied'))).toMatchObject({ status: 409, message: expect.stringContaining('cancelled') });
  });

  it("a terminal reset while the screen's bad grade waits for its reason does not close it as not rated", () => {
    const r = rig();
    const inv = r.invite();
    r.desk.onTerminalHello(r.terminal);
    r.timers.advance(2000);
    r.desk.screenPress(inv, 'dissatisfied');
    r.desk.onTerminalHello({ ...r.terminal, boot: 'b2', pending: [] });
    r.desk.screenReason(inv, 0);
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'rated', channel: 'screen' })]);
  });

  it('a restart while the reason is chosen on the screen keeps the press: the reason time starts again, the terminal is only sent a cancel', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(2000);
    r.desk.screenPress(inv, 'very_dissatisfied');
    const { desk: again, closed } = r.restart();
    r.sent.length = 0;
    again.resume(r.terminal);
    expect(r.sent).toEqual([`cancel ${inv}`]);
    // A press the terminal took meanwhile is a second one.
    again.onTerminalReport({ type: 'rating', seq: 99, inv, grade: 'very_satisfied', latencyMs: 2500, reason: null }, r.terminal);
    expect(closed).toEqual([]);
    again.screenReason(inv, 0);
    expect(closed).toEqual([expect.objectContaining({ id: inv, channel: 'screen', rating: expect.objectContaining({ grade: 'very_dissatisfied', reasons: ['R1'], latencyMs: 2000 }) })]);
    // Closed: nothing is kept for a later restart.
    expect(new InvitationDesk(r.options).current()).toBeUndefined();
  });

  it('a restart with the press kept and no reason chosen: rated without one when the reason time runs out again, never not_rated', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(2000);
    r.desk.screenPress(inv, 'dissatisfied');
    const { closed } = r.restart();
    r.timers.advance(REASON_MS);
    expect(closed).toEqual([expect.objectContaining({ outcome: 'rated', channel: 'screen', flags: ['no_reason'] })]);
  });

  it('a disk that cannot store the reason: refused 507 to the screen, kept, and stored once the disk allows', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(2000);
    r.desk.screenPress(inv, 'dissatisfied');
    const transaction = r.options.transaction;
    let full = true;
    r.options.transaction = (fn) => {
      if (full) throw new StorageFailure('SQLITE_FULL', 'database or disk is full');
      return transaction(fn);
    };
    expect(refusal(() => r.desk.screenReason(inv, 1))).toMatchObject({ status: 507, code: 'storage_full' });
    full = false;
    r.timers.advance(STORAGE_RETRY_MS);
    expect(r.closed).toEqual([expect.objectContaining({ channel: 'screen', rating: expect.objectContaining({ reasons: ['R2'] }) })]);
  });
});
