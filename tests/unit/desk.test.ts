import { describe, expect, it } from 'vitest';
import type { TerminalInfo, TerminalReport } from '../../bridge/terminal/terminal-link.js';
import {
  ALIVE_CHECK_MS,
  CANCEL_GRACE_MS,
  DeskError,
  InvitationDesk,
  RESUME_GRACE_MS,
  REPORT_OVERDUE_MS,
  RESUME_REPLAY_MS,
  STORAGE_RETRY_MS,
  type InvitationDeskOptions,
} from '../../bridge/desk/invitation-desk.js';
import { StorageFailure } from '../../bridge/store/commits.js';
import type { StoredEvent, StoredInvitation } from '../../protocol/records.js';
import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import type { Grade } from '../../protocol/grades.js';
import { manualWall } from '../support/manual-clock.js';
import { deskParts, GRACE_MS, REASON_MS, RULES, TIMEOUT_MS } from '../support/desk-options.js';

/** Past this with no word from a silent terminal, the desk closes the invitation itself. */
const DEADLINE_MS = TIMEOUT_MS + REASON_MS + GRACE_MS;

/**
 * A desk on a real in-memory database, its backstops on manual timers, the terminal played by the
 * test: `line.alive` is whether the terminal is heard from (its heartbeats), true until a test says.
 */
function rig(overrides: Partial<InvitationDeskOptions> = {}) {
  const { timers, db, commits, sent, options: base } = deskParts();
  const line = { alive: true };
  const options: InvitationDeskOptions = { ...base, terminalReady: () => line.alive, ...overrides };
  const { outbox } = options;
  const desk = new InvitationDesk(options);
  const closed: StoredInvitation[] = [];
  const events: StoredEvent[] = [];
  const reconciled: StoredInvitation[] = [];
  const actions: StaffActionEntry[] = [];
  desk.on('closed', (record) => closed.push(record));
  desk.on('event', (event) => events.push(event));
  desk.on('reconciled', (record) => reconciled.push(record));
  desk.on('staffAction', (entry) => actions.push(entry));
  desk.signIn('S-1');
  const terminal: TerminalInfo = { serial: 'DEV-1', fw: '1.0.0', boot: 'b1', proto: 1 };
  let seq = 0;
  const report = (message: DistributiveOmit<TerminalReport, 'seq'>, from = terminal): void => desk.onTerminalReport({ ...message, seq: ++seq } as TerminalReport, from);
  const invite = (caseNo = 'C-1'): string => desk.invite({ services: [{ itemCode: 'I-1', caseNo }], mode: 'single', proxy: false, test: false }).id;
  /** Invites, and the citizen presses `grade` after `latencyMs`. */
  const rate = (grade: Grade, latencyMs = 2000, reason: number | null = null): StoredInvitation => {
    const inv = invite(`C-${seq}-${grade}`);
    timers.advance(latencyMs);
    report({ type: 'rating', inv, grade, latencyMs, reason });
    return closed.at(-1)!;
  };
  return { desk, timers, outbox, db, commits, options, sent, line, closed, events, reconciled, actions, terminal, report, invite, rate };
}

type Rig = ReturnType<typeof rig>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

describe('invitation desk: one invitation, one outcome', () => {
  it('closes a rated invitation with the grade, the press time on the device clock, and no flags', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(2500);
    r.report({ type: 'rating', inv, grade: 'satisfied', latencyMs: 2400, reason: null });
    expect(r.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'rated', flags: [] })]);
    const { rating, invitedAt } = r.closed[0]!;
    expect(rating).toMatchObject({ grade: 'satisfied', latencyMs: 2400, reasons: [] });
    expect(Date.parse(rating!.pressedAt) - Date.parse(invitedAt)).toBe(2400);
    expect(r.desk.current()).toBeUndefined();
    expect(r.outbox.get(inv)?.state).toBe('pending');
  });

  it('closes as not_rated when the terminal reports the invitation expired', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(TIMEOUT_MS);
    r.report({ type: 'expired', inv });
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'not_rated', flags: [] })]);
  });

  it('closes as not_rated, flagged device_silent, when the terminal is silent (heartbeats gone) at the deadline', () => {
    const r = rig();
    r.invite();
    r.line.alive = false;
    r.timers.advance(DEADLINE_MS - 1);
    expect(r.closed).toHaveLength(0);
    r.timers.advance(1);
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'not_rated', flags: ['device_silent'] })]);
  });

  it('a new boot of the terminal holding no report for the open invitation: not_rated, flagged terminal_reset, at once', () => {
    const r = rig();
    r.desk.onTerminalHello(r.terminal);
    r.invite();
    r.desk.onTerminalHello({ ...r.terminal, boot: 'b2', pending: [] });
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'not_rated', flags: ['terminal_reset'] })]);
  });

  it('a new boot whose hello lists the open invitation: its journaled rating stands, however late it comes', () => {
    const r = rig();
    r.desk.onTerminalHello(r.terminal);
    const inv = r.invite();
    const rebooted = { ...r.terminal, boot: 'b2', pending: [inv] };
    r.desk.onTerminalHello(rebooted);
    r.timers.advance(DEADLINE_MS - 1);
    r.report({ type: 'rating', inv, grade: 'very_satisfied', latencyMs: 1500, reason: null }, rebooted);
    r.timers.advance(DEADLINE_MS);
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'rated', flags: [] })]);
  });

  it('a new boot that does not say what it holds: nothing is guessed, the deadline stands', () => {
    const r = rig();
    r.desk.onTerminalHello(r.terminal);
    r.invite();
    r.desk.onTerminalHello({ ...r.terminal, boot: 'b2', pending: null });
    r.line.alive = false;
    r.timers.advance(DEADLINE_MS - 1);
    expect(r.closed).toHaveLength(0);
    r.timers.advance(1);
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'not_rated', flags: ['device_silent'] })]);
  });

  it('the same boot saying hello again (a reconnect) changes nothing', () => {
    const r = rig();
    r.desk.onTerminalHello(r.terminal);
    r.invite();
    r.desk.onTerminalHello(r.terminal);
    r.timers.advance(DEADLINE_MS - 1);
    expect(r.closed).toHaveLength(0);
  });

  it('survives a restart: the open invitation is held again and its report still closes it', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.stop();
    const again = new InvitationDesk(r.options);
    expect(again.current()?.id).toBe(inv);
    const closed: StoredInvitation[] = [];
    again.on('closed', (record) => closed.push(record));
    again.onTerminalReport({ type: 'rating', seq: 1, inv, grade: 'satisfied', latencyMs: 3000, reason: null }, r.terminal);
    expect(closed).toEqual([expect.objectContaining({ id: inv, outcome: 'rated' })]);
  });
});

/**
 * The bridge restarts on the same database (same timers: the machine's clock runs on through the
 * restart); the new desk's sends and outcomes are collected afresh.
 */
function restart(r: Rig, overrides: Partial<InvitationDeskOptions> = {}) {
  r.desk.stop();
  const sent: string[] = [];
  const desk = new InvitationDesk({
    ...r.options,
    sendInvite: (inv, timeoutMs) => void sent.push(`invite ${inv} ${timeoutMs}`),
    sendCancel: (inv) => void sent.push(`cancel ${inv}`),
    ...overrides,
  });
  const closed: StoredInvitation[] = [];
  const events: StoredEvent[] = [];
  desk.on('closed', (record) => closed.push(record));
  desk.on('event', (event) => events.push(event));
  let seq = 100;
  const report = (message: DistributiveOmit<TerminalReport, 'seq'>): void => desk.onTerminalReport({ ...message, seq: ++seq } as TerminalReport, r.terminal);
  return { desk, sent, closed, events, report };
}

describe('invitation desk: across a restart of the bridge', () => {
  it('an invitation committed just before a crash is sent to the terminal again, with the time it has left, once its replay is heard', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(10_000);
    const after = restart(r);
    expect(after.desk.current()?.id).toBe(inv);
    after.desk.resume(r.terminal);
    r.timers.advance(RESUME_REPLAY_MS - 1);
    expect(after.sent).toEqual([]);
    r.timers.advance(1);
    expect(after.sent).toEqual([`invite ${inv} ${TIMEOUT_MS - 10_000 - RESUME_REPLAY_MS}`]);
    // A second hello (the cable reconnects) sends nothing more: the link resends until acknowledged.
    after.desk.resume(r.terminal);
    r.timers.advance(RESUME_REPLAY_MS);
    expect(after.sent).toHaveLength(1);
    after.report({ type: 'rating', inv, grade: 'satisfied', latencyMs: 14_000, reason: null });
    expect(after.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'rated' })]);
  });

  it('a terminal whose hello lists its journal: sent again at once if not listed, not at all if its report is on its way', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(10_000);
    const after = restart(r);
    after.desk.resume({ ...r.terminal, pending: [] });
    expect(after.sent).toEqual([`invite ${inv} ${TIMEOUT_MS - 10_000}`]);
    const again = restart(r);
    again.desk.resume({ ...r.terminal, pending: [inv] });
    r.timers.advance(RESUME_REPLAY_MS);
    expect(again.sent).toEqual([]);
    again.report({ type: 'rating', inv, grade: 'satisfied', latencyMs: 3000, reason: null });
    expect(again.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'rated' })]);
  });

  it('an invitation whose time ran out while the bridge was down, and which the terminal does not hold, closes at once: a live terminal will never report it', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(TIMEOUT_MS + 1000); // committed, then the bridge died before the terminal had it
    const after = restart(r);
    r.timers.advance(RESUME_GRACE_MS);
    after.desk.resume({ ...r.terminal, pending: [] }); // alive, and its journal holds nothing of it
    expect(after.sent).toEqual([]);
    r.timers.advance(0);
    expect(after.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'not_rated', flags: ['device_silent'] })]);
  });

  it.each([
    ['on the monotonic clock, in the same boot of the machine', 'boot-1'],
    ['on the wall clock, after a reboot of the machine (a new boot id)', 'boot-2'],
  ])('its deadline counts from when it was made, not from the restart: %s', (_case, bootId) => {
    const r = rig();
    r.invite();
    r.timers.advance(20_000);
    const after = restart(r, { clock: new TimeKeeper(manualWall(r.timers), bootId, 'system') });
    after.desk.resume(r.terminal);
    r.line.alive = false;
    r.timers.advance(DEADLINE_MS - 20_000 - 1);
    expect(after.closed).toHaveLength(0);
    r.timers.advance(1);
    expect(after.closed).toEqual([expect.objectContaining({ outcome: 'not_rated', flags: ['device_silent'] })]);
  });

  it('a rating the terminal replays after its hello closes it, and the invitation is not shown again', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.stop(); // the bridge is down for longer than the deadline
    r.timers.advance(DEADLINE_MS + 60_000);
    const after = restart(r);
    after.desk.resume(r.terminal);
    after.report({ type: 'rating', inv, grade: 'very_satisfied', latencyMs: 5000, reason: null });
    r.timers.advance(DEADLINE_MS);
    expect(after.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'rated', flags: [] })]);
    expect(after.sent).toEqual([]);
  });

  it('a restart past the deadline gives a terminal that never speaks a short grace, not a whole new deadline', () => {
    const r = rig();
    r.invite();
    r.line.alive = false;
    r.desk.stop(); // the bridge is down for longer than the deadline
    r.timers.advance(DEADLINE_MS + 60_000);
    const after = restart(r);
    r.timers.advance(RESUME_GRACE_MS - 1);
    expect(after.closed).toHaveLength(0);
    r.timers.advance(1);
    expect(after.closed).toEqual([expect.objectContaining({ outcome: 'not_rated', flags: ['device_silent'] })]);
    expect(after.sent).toEqual([]);
  });

  it('a cancel made just before a crash is carried out after the restart: sent again, then cancelled', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.cancel(inv, 'citizen_left');
    r.timers.advance(1000);
    const after = restart(r);
    after.desk.resume(r.terminal);
    r.timers.advance(RESUME_REPLAY_MS);
    expect(after.sent).toEqual([`cancel ${inv}`]);
    r.line.alive = false; // the terminal went quiet before it confirmed
    r.timers.advance(CANCEL_GRACE_MS);
    expect(after.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'cancelled', cancelReason: 'citizen_left', flags: ['device_silent'], device: null })]);
  });

  it('a press that beat the cancel still wins after the restart', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.cancel(inv, 'citizen_left');
    const after = restart(r);
    after.desk.resume(r.terminal);
    after.report({ type: 'rating', inv, grade: 'dissatisfied', latencyMs: 900, reason: 1 });
    r.timers.advance(DEADLINE_MS);
    expect(after.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'rated', rating: expect.objectContaining({ reasons: ['R2'] }) })]);
    expect(after.events).toEqual([]);
  });
});

describe('invitation desk: cancel races', () => {
  it('a press that beat the cancel wins: the rating stands', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.cancel(inv, 'citizen_left');
    expect(r.sent).toEqual([`invite ${inv}`, `cancel ${inv}`]);
    r.report({ type: 'rating', inv, grade: 'dissatisfied', latencyMs: 1200, reason: 0 });
    r.timers.advance(DEADLINE_MS);
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'rated', flags: [] })]);
    expect(r.closed[0]!.rating).toMatchObject({ grade: 'dissatisfied', reasons: ['R1'], reasonCatalogVersion: '2026.1' });
  });

  it('a cancel the terminal confirms: cancelled, and its resend is not stored again', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.cancel(inv, 'citizen_left');
    r.report({ type: 'cancelled', inv });
    r.report({ type: 'cancelled', inv });
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'cancelled', flags: [] })]);
    expect(r.events).toHaveLength(0);
  });

  it('a cancel a silent terminal (unplugged) never answers: cancelled after the cancel grace, flagged device_silent', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(5000);
    r.line.alive = false;
    r.desk.cancel(inv, 'citizen_left');
    r.timers.advance(2999);
    expect(r.closed).toHaveLength(0);
    r.timers.advance(1);
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'cancelled', flags: ['device_silent'] })]);
  });

  it('cancel before any press, confirmed by the terminal: cancelled with the reason, the terminal named', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.cancel(inv, 'wrong_case');
    r.report({ type: 'cancelled', inv });
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'cancelled', cancelReason: 'wrong_case', flags: [], device: 'DEV-1' })]);
  });

  it.each([
    ['the press first, then the cancel', true],
    ['the cancel first, then the press the terminal took before it heard the cancel', false],
  ])('cancel at the press, in the same tick (%s): the rating is the outcome', (_order, pressFirst) => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(4000);
    const press = (): void => r.report({ type: 'rating', inv, grade: 'satisfied', latencyMs: 4000, reason: null });
    if (pressFirst) press();
    else r.desk.cancel(inv, 'citizen_left');
    if (pressFirst) expect(() => r.desk.cancel(inv, 'citizen_left')).toThrow(expect.objectContaining({ status: 409, code: 'invitation_closed' }));
    else press();
    r.timers.advance(DEADLINE_MS + REPORT_OVERDUE_MS);
    expect(r.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'rated', flags: [], device: 'DEV-1' })]);
    expect(r.closed[0]).not.toHaveProperty('cancelReason');
  });

  it('cancel during reason selection: the live terminal is waited for past the cancel grace, and the rating with its reason stands', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(3000); // 不满意 pressed; the terminal offers the reasons
    r.desk.cancel(inv, 'citizen_left');
    r.timers.advance(CANCEL_GRACE_MS + REASON_MS - 1000);
    expect(r.closed).toEqual([]);
    r.report({ type: 'rating', inv, grade: 'dissatisfied', latencyMs: 3000, reason: 0 });
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'rated', flags: [], rating: expect.objectContaining({ grade: 'dissatisfied', reasons: ['R1'] }) })]);
  });

  it('cancel during reason selection, no reason chosen: the bad grade stands, flagged no_reason', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(TIMEOUT_MS - 100); // pressed at the last moment
    r.desk.cancel(inv, 'citizen_left');
    r.timers.advance(REASON_MS);
    r.report({ type: 'rating', inv, grade: 'very_dissatisfied', latencyMs: TIMEOUT_MS - 100, reason: null });
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'rated', flags: ['no_reason'] })]);
  });

  it('a cancel that reached the terminal after its own timeout: no press either way, and the staff cancel (with its reason) stands', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(TIMEOUT_MS);
    r.desk.cancel(inv, 'citizen_left');
    r.report({ type: 'expired', inv });
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'cancelled', cancelReason: 'citizen_left' })]);
  });

  it('cancel after the thanks: refused 409 invitation_closed, the rating stands', () => {
    const r = rig();
    const rated = r.rate('very_satisfied');
    expect(() => r.desk.cancel(rated.id, 'citizen_left')).toThrow(expect.objectContaining({ status: 409, code: 'invitation_closed', message: expect.stringContaining('rated') }));
    expect(r.outbox.get(rated.id)?.record).toMatchObject({ outcome: 'rated' });
  });

  it('a live terminal is never closed on by the desk: past the deadline it is waited for, and its late report closes it unflagged', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(DEADLINE_MS + REPORT_OVERDUE_MS / 2);
    expect(r.desk.current()?.id).toBe(inv);
    r.report({ type: 'rating', inv, grade: 'satisfied', latencyMs: 5000, reason: null });
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'rated', flags: [] })]);
  });

  it('a live terminal that falls silent past the deadline: closed device_silent within a liveness check', () => {
    const r = rig();
    r.invite();
    r.timers.advance(DEADLINE_MS + 5000);
    r.line.alive = false;
    r.timers.advance(ALIVE_CHECK_MS);
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'not_rated', flags: ['device_silent'] })]);
  });

  it.each([
    ['not_rated', false],
    ['cancelled', true],
  ] as const)('the hard bound: a terminal alive but never reporting closes %s at deadline + REPORT_OVERDUE_MS, flagged report_overdue', (outcome, cancel) => {
    const r = rig();
    const inv = r.invite();
    if (cancel) r.desk.cancel(inv, 'device_fault');
    r.timers.advance(DEADLINE_MS + REPORT_OVERDUE_MS - 1);
    expect(r.closed).toEqual([]);
    r.timers.advance(1);
    expect(r.closed).toEqual([expect.objectContaining({ outcome, flags: ['report_overdue'], device: null })]);
    // Its report, should it ever come, is reconciled.
    r.report({ type: 'rating', inv, grade: 'satisfied', latencyMs: 5000, reason: null });
    expect(r.reconciled).toEqual([expect.objectContaining({ supersedes: inv, outcome: 'rated' })]);
  });

  it('refuses to cancel what is closed or unknown, naming it', () => {
    const r = rig();
    const inv = r.invite();
    r.report({ type: 'expired', inv });
    expect(() => r.desk.cancel(inv, 'citizen_left')).toThrow(expect.objectContaining({ status: 409, code: 'invitation_closed' }));
    expect(() => r.desk.cancel('nope', 'citizen_left')).toThrow(expect.objectContaining({ status: 404, code: 'not_found' }));
  });
});

describe('invitation desk: late reports are reconciled, never a second outcome', () => {
  it('a rating after the desk closed a silent terminal\'s invitation is reconciled: a new record superseding it, counted once', () => {
    const r = rig();
    const inv = r.invite();
    r.line.alive = false;
    r.timers.advance(DEADLINE_MS);
    expect(r.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'not_rated', flags: ['device_silent'], device: null })]);
    r.line.alive = true; // the cable is back: the terminal replays its journal
    const late = { type: 'rating', inv, grade: 'dissatisfied', latencyMs: 9000, reason: 1 } as const;
    r.report(late);
    r.report(late);
    expect(r.reconciled).toEqual([
      expect.objectContaining({ outcome: 'rated', supersedes: inv, flags: ['reconciled'], device: 'DEV-1', invitedAt: r.closed[0]!.invitedAt, staffId: 'S-1' }),
    ]);
    const [record] = r.reconciled;
    expect(record!.id).not.toBe(inv);
    expect(record!.rating).toMatchObject({ grade: 'dissatisfied', reasons: ['R2'], reasonCatalogVersion: '2026.1', latencyMs: 9000 });
    expect(r.outbox.get(record!.id)?.record).toEqual(record);
    expect(r.events).toEqual([]);
    expect(r.closed).toHaveLength(1);
    // Staff looking the invitation up see its one outcome: the reconciled one.
    expect(r.desk.lookup(inv)).toMatchObject({ state: 'closed', outcome: 'rated', record: { id: record!.id } });
  });

  it('a bad grade reported late without a reason is reconciled flagged no_reason; after a restart the current catalogue reads a reason', () => {
    const r = rig();
    const inv = r.invite();
    r.line.alive = false;
    r.timers.advance(DEADLINE_MS);
    r.report({ type: 'rating', inv, grade: 'very_dissatisfied', latencyMs: 9000, reason: null });
    expect(r.reconciled[0]).toMatchObject({ flags: ['no_reason', 'reconciled'], rating: { reasons: [] } });
    r.line.alive = true;
    const other = r.invite('C-2');
    r.line.alive = false;
    r.timers.advance(DEADLINE_MS);
    const after = restart(r);
    after.report({ type: 'rating', inv: other, grade: 'dissatisfied', latencyMs: 4000, reason: 0 });
    expect(after.events).toEqual([]);
    expect(r.outbox.get(other)?.record).toMatchObject({ outcome: 'not_rated' });
    const rows = r.db.prepare(`SELECT body FROM records WHERE json_extract(body, '$.supersedes') = ?`).all(other) as Array<{ body: string }>;
    expect(rows.map((row) => JSON.parse(row.body) as StoredInvitation)).toEqual([
      expect.objectContaining({ outcome: 'rated', flags: ['reconciled'], rating: expect.objectContaining({ reasons: ['R1'] }) }),
    ]);
  });

  it('a cancelled invitation the desk closed without the terminal: the press made meanwhile wins, reconciled', () => {
    const r = rig();
    const inv = r.invite();
    r.line.alive = false; // unplugged; the citizen presses on the terminal meanwhile
    r.desk.cancel(inv, 'citizen_left');
    r.timers.advance(CANCEL_GRACE_MS);
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'cancelled', cancelReason: 'citizen_left', flags: ['device_silent'] })]);
    r.line.alive = true;
    r.report({ type: 'rating', inv, grade: 'very_satisfied', latencyMs: 3000, reason: null });
    expect(r.reconciled).toEqual([expect.objectContaining({ outcome: 'rated', supersedes: inv, flags: ['reconciled'] })]);
    expect(r.reconciled[0]).not.toHaveProperty('cancelReason');
  });

  it('no press either way: a late expiry or cancel of an invitation closed without the terminal changes nothing', () => {
    const r = rig();
    const first = r.invite('C-1');
    r.line.alive = false;
    r.timers.advance(DEADLINE_MS);
    r.line.alive = true;
    const second = r.invite('C-2');
    r.desk.cancel(second, 'wrong_case');
    r.line.alive = false;
    r.timers.advance(CANCEL_GRACE_MS);
    r.report({ type: 'expired', inv: first });
    r.report({ type: 'cancelled', inv: first });
    r.report({ type: 'expired', inv: second });
    expect(r.closed.map((c) => c.outcome)).toEqual(['not_rated', 'cancelled']);
    expect(r.reconciled).toEqual([]);
    expect(r.events).toEqual([]);
  });

  it('a rating for an invitation the terminal itself closed otherwise is an event, never a second outcome', () => {
    const r = rig();
    const inv = r.invite();
    r.report({ type: 'expired', inv });
    r.report({ type: 'rating', inv, grade: 'satisfied', latencyMs: 50_000, reason: null });
    expect(r.closed).toEqual([expect.objectContaining({ outcome: 'not_rated', device: 'DEV-1' })]);
    expect(r.reconciled).toEqual([]);
    expect(r.events).toEqual([
      expect.objectContaining({ type: 'late_device_report', device: 'DEV-1', detail: { invitationId: inv, report: 'rating', grade: 'satisfied', device: 'DEV-1' } }),
    ]);
  });

  it('a report for an invitation this window never made is kept as an event too', () => {
    const r = rig();
    r.report({ type: 'expired', inv: 'someone-else' });
    expect(r.events).toEqual([expect.objectContaining({ type: 'late_device_report', detail: expect.objectContaining({ invitationId: 'someone-else', grade: null }) })]);
    expect(r.closed).toHaveLength(0);
  });

  it('stray and stuck buttons are events, stored once per ref', () => {
    const r = rig();
    r.report({ type: 'stray', grade: 'satisfied', ref: 'p1' });
    r.report({ type: 'stray', grade: 'satisfied', ref: 'p1' });
    r.report({ type: 'stuck', button: 2, heldMs: 9000, ref: 's1' });
    expect(r.events.map((e) => e.type)).toEqual(['stray_press', 'stuck_button']);
  });
});

describe('invitation desk: staff actions are announced for the audit, never a grade', () => {
  it('sign-in, invite, test invite, cancel with its reason, sign-out', () => {
    const r = rig();
    const inv = r.invite();
    r.desk.cancel(inv, 'duplicate_invitation');
    r.report({ type: 'cancelled', inv });
    const test = r.desk.invite({ services: [{ itemCode: 'I-1', caseNo: 'T-1' }], mode: 'single', proxy: false, test: true }).id;
    r.report({ type: 'rating', inv: test, grade: 'very_dissatisfied', latencyMs: 2000, reason: 0 });
    r.desk.signOut();
    expect(r.actions).toEqual([
      { action: 'sign_in', actor: 'S-1', detail: { windowNo: '07' } },
      { action: 'invite', actor: 'S-1', detail: { invitationId: inv, mode: 'single', cases: 1, proxy: false } },
      { action: 'cancel', actor: 'S-1', detail: { invitationId: inv, reason: 'duplicate_invitation' } },
      { action: 'test_invite', actor: 'S-1', detail: { invitationId: test, mode: 'single', cases: 1, proxy: false } },
      { action: 'sign_out', actor: 'S-1', detail: { windowNo: '07' } },
    ]);
    expect(JSON.stringify(r.actions)).not.toMatch(/satisf/);
  });

  it('a refused action announces nothing', () => {
    const r = rig();
    r.actions.length = 0;
    expect(() => r.desk.cancel('nope', 'citizen_left')).toThrow(DeskError);
    r.line.alive = false;
    expect(() => r.invite()).toThrow(DeskError);
    expect(r.actions).toEqual([]);
  });
});

describe('invitation desk: honesty flags (flagged, never dropped)', () => {
  it('fast_press: a press sooner than minPressMs', () => {
    const r = rig();
    expect(r.rate('very_satisfied', 300).flags).toEqual(['fast_press']);
    expect(r.rate('satisfied', 800).flags).toEqual([]);
  });

  it('grade_burst: burstCount identical grades in a row within the window', () => {
    const r = rig();
    expect([r.rate('very_satisfied'), r.rate('very_satisfied'), r.rate('very_satisfied')].map((x) => x.flags)).toEqual([[], [], ['grade_burst']]);
    r.timers.advance(RULES.burstWindowMs);
    expect(r.rate('very_satisfied').flags).toEqual([]);
  });

  it('stray_nearby: a stray press shortly before the invitation', () => {
    const r = rig();
    r.report({ type: 'stray', grade: 'very_satisfied', ref: 'p1' });
    r.timers.advance(RULES.strayWindowMs);
    expect(r.rate('satisfied').flags).toEqual(['stray_nearby']);
    r.timers.advance(RULES.strayWindowMs + 1);
    expect(r.rate('satisfied').flags).toEqual([]);
  });

  it('repeat_case: a case number invited again within a day', () => {
    const r = rig();
    const first = r.invite('C-9');
    r.report({ type: 'expired', inv: first });
    r.invite('C-9');
    expect(r.desk.current()?.flags).toEqual(['repeat_case']);
  });

  it('implausible_latency: a latency beyond the timeout the terminal enforces is cut to it (found by fuzzing: years of latency made an invalid record, or threw)', () => {
    const r = rig();
    const inv = r.invite();
    r.timers.advance(5000);
    r.report({ type: 'rating', inv, grade: 'satisfied', latencyMs: Number.MAX_SAFE_INTEGER, reason: null });
    const [record] = r.closed;
    expect(record).toMatchObject({ outcome: 'rated', flags: ['implausible_latency'], rating: { latencyMs: TIMEOUT_MS } });
    expect(Date.parse(record!.rating!.pressedAt) - Date.parse(record!.invitedAt)).toBe(TIMEOUT_MS);
    expect(r.rate('satisfied', TIMEOUT_MS).flags).toEqual([]);
  });

  it('no_reason: a bad grade without a reason from the catalogue', () => {
    const r = rig();
    expect(r.rate('very_dissatisfied', 2000, null)).toMatchObject({ flags: ['no_reason'], rating: { reasons: [] } });
    expect(r.rate('very_dissatisfied', 2000, 4)).toMatchObject({ flags: ['no_reason'], rating: { reasons: [] } });
    expect(r.rate('dissatisfied', 2000, 1)).toMatchObject({ flags: [], rating: { reasons: ['R2'] } });
    expect(r.rate('satisfied', 2000, null).flags).toEqual([]);
  });
});

describe('invitation desk: refusals change nothing', () => {
  const request = { services: [{ itemCode: 'I-1', caseNo: 'C-1' }], mode: 'single' as const, proxy: false, test: false };
  it.each([
    ['not_signed_in', 409, (r: Rig): void => r.desk.signOut()],
    ['invitation_open', 409, (r: Rig): void => void r.invite()],
  ] as const)('%s', (code, status, arrange) => {
    const r = rig();
    arrange(r);
    const before = r.sent.length;
    expect(() => r.desk.invite(request)).toThrow(expect.objectContaining({ code, status }));
    expect(r.sent).toHaveLength(before);
  });

  it.each([
    ['storage_full', 507, { storageFull: () => true }],
    ['self_test', 409, { selfTesting: () => true }],
    ['terminal_offline', 503, { terminalReady: () => false }],
  ] as const)('%s', (code, status, overrides) => {
    const r = rig(overrides);
    expect(() => r.desk.invite(request)).toThrow(expect.objectContaining({ name: DeskError.name, code, status }));
    expect(r.sent).toEqual([]);
    expect(r.desk.current()).toBeUndefined();
  });
});

describe('invitation desk: a database that cannot store (SQLITE_FULL for real, by max_page_count)', () => {
  function fullRig() {
    const r = rig();
    const fill = (): void => void r.db.pragma(`max_page_count = ${r.db.pragma('page_count', { simple: true }) as number}`);
    const free = (): void => void r.db.pragma('max_page_count = 1000000');
    return { ...r, fill, free };
  }

  it('an invitation is refused with 507 storage_full naming the failure, and nothing changes', () => {
    const r = fullRig();
    r.fill();
    expect(() => r.invite('C-'.padEnd(4000, 'x'))).toThrow(expect.objectContaining({ name: DeskError.name, status: 507, code: 'storage_full', message: expect.stringMatching(/SQLITE_FULL.*free space.*nothing was changed/) }));
    expect(r.desk.current()).toBeUndefined();
    expect(r.sent).toEqual([]);
    expect(r.commits.fault?.code).toBe('SQLITE_FULL');
  });

  it('a rating that cannot be stored is not taken (the terminal resends it); its resend closes the invitation once there is room', () => {
    const r = fullRig();
    // A long case number makes the rating's record larger than any free space left in its pages.
    const inv = r.invite('C-'.padEnd(8000, 'x'));
    r.fill();
    const rating = { type: 'rating', inv, grade: 'satisfied', latencyMs: 2000, reason: null } as const;
    expect(() => r.report(rating)).toThrow(StorageFailure);
    expect(r.desk.current()?.id).toBe(inv);
    expect(r.closed).toEqual([]);
    r.free();
    r.report(rating);
    expect(r.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'rated' })]);
    expect(r.commits.fault).toBeNull();
  });

  it('a rating that could not be stored is not overtaken by the backstop: the invitation waits for its resend, never device_silent', () => {
    const r = fullRig();
    const inv = r.invite('C-'.padEnd(8000, 'x'));
    r.fill();
    const rating = { type: 'rating', inv, grade: 'very_satisfied', latencyMs: 2000, reason: null } as const;
    expect(() => r.report(rating)).toThrow(StorageFailure);
    r.free();
    r.timers.advance(DEADLINE_MS + 3 * STORAGE_RETRY_MS);
    expect(r.closed).toEqual([]);
    r.report(rating);
    expect(r.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'rated', flags: [] })]);
  });

  it('a backstop that cannot store its outcome throws nothing (it would kill the bridge from a timer) and tries again', () => {
    const r = fullRig();
    const inv = r.invite('C-'.padEnd(8000, 'x'));
    r.line.alive = false;
    r.fill();
    expect(() => r.timers.advance(DEADLINE_MS)).not.toThrow();
    expect(r.desk.current()?.id).toBe(inv);
    expect(() => r.timers.advance(STORAGE_RETRY_MS)).not.toThrow();
    r.free();
    r.timers.advance(STORAGE_RETRY_MS);
    expect(r.closed).toEqual([expect.objectContaining({ id: inv, outcome: 'not_rated', flags: ['device_silent'] })]);
  });
});
