import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { GRADE_INFO, gradeSchema, type Grade } from '../../protocol/grades.js';
import type { CancelReason } from '../../protocol/cancel-reasons.js';
import type { ReasonCatalog } from '../../protocol/province-config.js';
import type { InvitationRequest } from '../../protocol/http-api.js';
import type { Timers } from '../../protocol/timers.js';
import {
  RECORD_SCHEMA_VERSION,
  type ClockStamp,
  type Outcome,
  type Service,
  type StoredEvent,
  type StoredInvitation,
} from '../../protocol/records.js';
import type { Refusal } from '../../protocol/refusals.js';
import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import type { OfferedReason } from '../bridge-events.js';
import { stamp, type Clock } from '../clock.js';
import type { TerminalInfo, TerminalReport } from '../terminal/terminal-link.js';
import type { Logger } from '../log.js';
import type { Outbox } from '../store/outbox.js';
import { StorageFailure } from '../store/commits.js';
import { invitationFlags, ratingFlags, type HonestyRules } from './honesty.js';
import type { OpenInvitationStore } from '../store/open-invitation-store.js';
import type { Settings } from '../store/settings.js';

export interface TerminalIdentity {
  terminalId: string;
  areaCode: string;
  hallCode: string;
  windowNo: string;
}

export interface OpenInvitation {
  id: string;
  staffId: string;
  services: Service[];
  mode: InvitationRequest['mode'];
  proxy: boolean;
  test: boolean;
  /** ISO time the invitation was made. */
  invitedAt: string;
  /** The clock when it was made: its deadline counts from here, across restarts (absent in rows saved before it). */
  clock?: ClockStamp;
  /** Staff asked to cancel it (kept, so that a restart carries the cancel out). */
  cancelled?: { at: string; clock: ClockStamp; reason: CancelReason };
  timeoutMs: number;
  /** Flags known when it was made (repeat_case, stray_nearby). */
  flags: string[];
  /** The province's reason catalogue as it was when the invitation was made. */
  reasonCatalog?: ReasonCatalog | null;
}

export type InvitationView =
  | (OpenInvitation & { state: 'open' })
  | { id: string; state: 'closed'; outcome: Outcome; record: StoredInvitation };

/**
 * The open invitation as the desk holds it: its backstop, `reported` when the terminal reported
 * its outcome but the disk could not store it (the terminal's resend will), and `unheld` when the
 * terminal does not hold it (resumed after a restart with its time run out, and not in the
 * terminal's journal): no live terminal will report it.
 */
type HeldInvitation = OpenInvitation & { backstop: unknown; reported?: boolean; unheld?: boolean; pressed?: Pressed };

/**
 * The citizen's press the desk knows of before the invitation closes, on either channel: the
 * terminal's (its `choosing` frame: a bad grade, a reason being chosen there) or the customer
 * screen's bad grade waiting for its reason (`reasonTimer` closes it without one). The first wins.
 */
type Pressed = { via: 'terminal' } | { via: 'screen'; grade: Grade; latencyMs: number; reasonTimer: unknown };

/** What is kept and shown of the open invitation: not the desk's own bookkeeping. */
function viewOf({ backstop: _backstop, reported: _reported, unheld: _unheld, pressed: _pressed, ...view }: HeldInvitation): OpenInvitation {
  return view;
}

/** The reasons the first `count` buttons offer from `catalog`, with the words the citizen reads or hears. */
export function offeredReasons(catalog: ReasonCatalog | null | undefined, count = catalog?.reasons.length ?? 0): OfferedReason[] {
  return (catalog?.reasons ?? []).slice(0, count).map(({ code, label }, button) => ({ button, code, label }));
}

/** A stored JSON text's value; null when there is none or it does not parse (a torn write). */
function jsonOrNull(text: string | undefined): unknown {
  try {
    return text === undefined ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

/** What the two channels did that changed nothing: a second press, and the terminal's expected word on a screen rating. */
export interface DeskCounters {
  /** Presses on the customer screen after the invitation had its press (on either channel) or closed. */
  screenPressesIgnored: number;
  /** The terminal's ratings for invitations the screen had rated first. */
  terminalPressesIgnored: number;
  /** The terminal confirming the cancel the desk sent it when the screen rated: expected, not a fault. */
  terminalCancelsAfterScreen: number;
}

/** A rating as the terminal reports it: `reason` indexes the catalogue the invitation offered. */
type ReportedRating = { grade: Grade; latencyMs: number; reason?: number | null };

/** Where the citizen rated: the terminal's buttons, or the customer screen (records' `channel`). */
type RatedVia = 'counter' | 'screen';

/** A refusal the caller can show as is: `status` is the HTTP status it maps to. */
export class DeskError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 503 | 507,
    readonly code: Refusal,
    message: string,
  ) {
    super(message);
    this.name = 'DeskError';
  }
}

export interface InvitationDeskOptions {
  identity: TerminalIdentity;
  outbox: Outbox;
  openStore: OpenInvitationStore<OpenInvitation>;
  /**
   * Runs `fn` in one database transaction: a record and its invitation's closing commit together.
   * Throws StorageFailure when the database cannot store it (full disk, I/O error).
   */
  transaction<T>(fn: () => T): T;
  settings: Settings;
  clock: Clock;
  /** The backstops: an invitation the terminal goes silent on still closes. */
  timers: Timers;
  newId(): string;
  logger: Logger;
  timeoutMs: number;
  honesty: HonestyRules;
  /** After timeout + reason time + grace with no word from a silent terminal, the desk closes the invitation itself. */
  graceMs: number;
  /**
   * Whether the terminal answers on its serial line (heard from lately, its hello accepted). New
   * invitations need it; and while it holds, the backstops wait for the terminal's report.
   */
  terminalReady(): boolean;
  /** Whether the database has reached its size cap. */
  storageFull(): boolean;
  /** Whether the terminal is in its self-test (no invitations meanwhile). */
  selfTesting(): boolean;
  sendInvite(id: string, timeoutMs: number, reasons: number, reasonTimeoutMs: number): void;
  /** The province's current reason catalogue for bad reviews, if it has sent one. */
  reasonCatalog(): ReasonCatalog | null;
  /** How long the citizen has to pick a reason after a bad grade. */
  reasonTimeoutMs: number;
  sendCancel(id: string): void;
  /** Tells the terminal the window is paused (暂停服务) or serving again. */
  sendPause(active: boolean): void;
}

const STAFF_KEY = 'staff.signedIn';
const TERMINAL_BOOT_KEY = 'terminal.boot';
/** Kept across restarts: a window paused stays paused until staff resume it. */
const PAUSED_KEY = 'desk.paused';
/**
 * A bad grade touched on the customer screen, waiting for its reason: kept apart from the open
 * invitation (whose view staff and the status see: never the grade), so that a restart meanwhile
 * does not lose the press.
 */
const SCREEN_PRESS_KEY = 'desk.screenPress';
const screenPressSchema = z.object({ id: z.string(), grade: gradeSchema, latencyMs: z.number().int().min(0) });
/** How long a silent terminal has to confirm a cancel before the desk closes the invitation itself. */
export const CANCEL_GRACE_MS = 3000;
/**
 * The hard upper bound for a terminal that is alive but never reports: this long past the
 * deadline, the invitation closes anyway (flagged `report_overdue`), so that the window is never
 * blocked for good. A working terminal has reported long before: it times out on its own.
 */
export const REPORT_OVERDUE_MS = 60_000;
/** While a live terminal is waited for past a backstop, how often the desk checks it is still alive. */
export const ALIVE_CHECK_MS = 1000;
/** The flags of an invitation the desk closed without the terminal's report: a later report reconciles it. */
const CLOSED_WITHOUT_TERMINAL = ['device_silent', 'report_overdue'];
/** Invitations closed without the terminal whose reason catalogue is kept for a late rating. */
const SILENT_CLOSES_KEPT = 16;
/**
 * After a restart, the least time the terminal gets to say hello and replay its journal before an
 * open invitation whose deadline passed meanwhile is closed: a rating pressed while the bridge was
 * down still closes it as a rating.
 */
export const RESUME_GRACE_MS = 5000;
/**
 * A terminal whose hello does not list its journal's invitations replays the journal right after
 * it: an invitation resumed after a restart is sent to it again only once the replay has had time to
 * close it, so that one already rated is not shown twice.
 */
export const RESUME_REPLAY_MS = 1000;
/** How soon a backstop whose outcome the disk could not store tries again. */
export const STORAGE_RETRY_MS = 5000;

/**
 * The window's invitation desk: who is signed in, the one open invitation, and turning what the
 * terminal reports into exactly one record per invitation (一次一评) plus events for the rest.
 */
export class InvitationDesk extends EventEmitter<{
  opened: [OpenInvitation];
  closed: [StoredInvitation];
  /** A late report of the terminal replaced the outcome the desk had given without it (a new record, `supersedes`). */
  reconciled: [StoredInvitation];
  event: [StoredEvent];
  staff: [string | null];
  /** What staff did (sign-in, sign-out, invite, cancel with its reason, pause, resume): never a grade. */
  staffAction: [StaffActionEntry];
  /** After a bad grade, the citizen is choosing a reason (on the terminal's buttons or the screen): what is offered. */
  choosing: [{ invitationId: string; reasons: OfferedReason[]; via: 'terminal' | 'screen' }];
  /** Staff paused the window or resumed it. */
  paused: [{ paused: boolean; actor: string | null }];
}> {
  private open: HeldInvitation | undefined;
  /** Wall time of the last stray press, for the stray_nearby flag. */
  private lastStrayAt: number | undefined;
  /** The invitation left open by a restart, until the terminal's hello has it sent again. */
  private resumed: { resend: unknown } | undefined;
  /** The reason catalogue of invitations closed without the terminal, by id: a late bad grade's reason is read in it. */
  private readonly silentCloses = new Map<string, ReasonCatalog | null>();
  private readonly counts: DeskCounters = { screenPressesIgnored: 0, terminalPressesIgnored: 0, terminalCancelsAfterScreen: 0 };

  constructor(private readonly opts: InvitationDeskOptions) {
    super();
    // An invitation left open by a restart waits for the terminal's report once more, from its own deadline.
    const [left] = opts.openStore.load();
    if (left) {
      this.hold(left, RESUME_GRACE_MS);
      this.resumed = { resend: undefined };
      this.resumeScreenPress(left.id);
    }
  }

  /** A bad grade the screen had taken before a restart: the citizen gets the reason time again. */
  private resumeScreenPress(id: string): void {
    const open = this.open;
    const kept = screenPressSchema.safeParse(jsonOrNull(this.opts.settings.get(SCREEN_PRESS_KEY)));
    if (!open || !kept.success || kept.data.id !== id) return;
    this.holdScreenPress(open, kept.data.grade, kept.data.latencyMs);
  }

  /** The screen has the press of `open`, a bad grade: its reason step closes it, no backstop meanwhile. */
  private holdScreenPress(open: HeldInvitation, grade: Grade, latencyMs: number): void {
    open.pressed = { via: 'screen', grade, latencyMs, reasonTimer: this.opts.timers.setTimeout(() => this.screenRated(open, null, []), this.opts.reasonTimeoutMs) };
    this.opts.timers.clearTimeout(open.backstop);
  }

  get staffId(): string | null {
    return this.opts.settings.get(STAFF_KEY) ?? null;
  }

  signIn(staffId: string): void {
    this.commitOrRefuse(() => this.opts.settings.set(STAFF_KEY, staffId));
    this.emit('staff', staffId);
    this.emit('staffAction', { action: 'sign_in', actor: staffId, detail: { windowNo: this.opts.identity.windowNo } });
  }

  signOut(): void {
    const staffId = this.staffId;
    this.commitOrRefuse(() => this.opts.settings.set(STAFF_KEY, null));
    this.emit('staff', null);
    this.emit('staffAction', { action: 'sign_out', actor: staffId, detail: { windowNo: this.opts.identity.windowNo } });
  }

  /** Whether staff paused the window (暂停服务): no invitations meanwhile; the terminal shows it. */
  get paused(): boolean {
    return this.opts.settings.get(PAUSED_KEY) === '1';
  }

  /**
   * Staff step away (暂停服务) or come back, `actor` being who did it. Kept across restarts, told
   * to the terminal (and again after its every hello, see resume()), audited as pause / resume.
   * Pausing waits for the open invitation's outcome; asking for the state the window is in changes nothing.
   */
  setPaused(paused: boolean, actor: string | null): void {
    if (paused === this.paused) return;
    if (paused && this.open) {
      throw new DeskError(409, 'invitation_open', `invitation ${this.open.id} is still open: pause the window when it has its outcome`);
    }
    this.commitOrRefuse(() => this.opts.settings.set(PAUSED_KEY, paused ? '1' : null));
    this.opts.sendPause(paused);
    this.emit('paused', { paused, actor });
    this.emit('staffAction', { action: paused ? 'pause' : 'resume', actor, detail: { windowNo: this.opts.identity.windowNo } });
  }

  get counters(): DeskCounters {
    return { ...this.counts };
  }

  current(): OpenInvitation | undefined {
    return this.open && viewOf(this.open);
  }

  invite(request: InvitationRequest): OpenInvitation {
    const staffId = this.staffId;
    if (!staffId) {
      throw new DeskError(409, 'not_signed_in', `no staff member is signed in at window ${this.opts.identity.windowNo}; sign in first`);
    }
    if (this.open) {
      throw new DeskError(409, 'invitation_open', `invitation ${this.open.id} is still open; wait for its outcome`);
    }
    if (this.paused) {
      throw new DeskError(409, 'window_paused', `window ${this.opts.identity.windowNo} is paused (暂停服务): resume it first`);
    }
    if (this.opts.storageFull()) {
      throw new DeskError(
        507,
        'storage_full',
        'the terminal database has reached its size cap: no new invitations until records are delivered and pruned (nothing is dropped)',
      );
    }
    if (this.opts.selfTesting()) {
      throw new DeskError(409, 'self_test', 'the terminal is running its self-test; invite again when it has finished');
    }
    if (!this.opts.terminalReady()) {
      throw new DeskError(503, 'terminal_offline', 'the rating terminal is not responding on its serial line');
    }
    const now = this.opts.clock.now();
    const invitation: OpenInvitation = {
      id: this.opts.newId(),
      staffId,
      services: request.services,
      mode: request.mode,
      proxy: request.proxy,
      test: request.test,
      invitedAt: now.toISOString(),
      clock: stamp(this.opts.clock),
      timeoutMs: this.opts.timeoutMs,
      flags: invitationFlags(request.services, { outbox: this.opts.outbox, rules: this.opts.honesty, now, lastStrayAt: this.lastStrayAt }),
      reasonCatalog: this.opts.reasonCatalog(),
    };
    this.commitOrRefuse(() => {
      this.opts.openStore.save(invitation);
      this.opts.outbox.noteInvitedCases(invitation.services.map((s) => s.caseNo), now);
    });
    this.hold(invitation, 0);
    this.opts.sendInvite(invitation.id, invitation.timeoutMs, invitation.reasonCatalog?.reasons.length ?? 0, this.opts.reasonTimeoutMs);
    this.emit('opened', invitation);
    this.emit('staffAction', {
      action: invitation.test ? 'test_invite' : 'invite',
      actor: staffId,
      detail: { invitationId: invitation.id, mode: invitation.mode, cases: invitation.services.length, proxy: invitation.proxy },
    });
    return invitation;
  }

  /**
   * Staff cancel the open invitation, giving a reason. The terminal confirms it (outcome cancelled)
   * unless the citizen pressed first (a reason being chosen included), in which case the rating
   * stands: the terminal decides. The desk waits for its word as long as it is alive.
   */
  cancel(id: string, reason: CancelReason): OpenInvitation {
    const open = this.open;
    if (open?.id !== id) {
      const closed = this.lookup(id);
      if (closed?.state === 'closed') throw new DeskError(409, 'invitation_closed', `invitation ${id} is already closed: ${closed.outcome}`);
      throw new DeskError(404, 'not_found', `no invitation ${id} at window ${this.opts.identity.windowNo}`);
    }
    if (open.pressed?.via === 'screen') {
      throw new DeskError(409, 'invitation_closed', `invitation ${id} was rated on the customer screen: the rating stands (the reason is being chosen)`);
    }
    // Saved before it is sent: a restart carries the cancel out. A second cancel keeps the first's time.
    const cancelled = open.cancelled ?? { at: this.opts.clock.now().toISOString(), clock: stamp(this.opts.clock), reason };
    const view = { ...viewOf(open), cancelled };
    this.commitOrRefuse(() => this.opts.openStore.save(view));
    open.cancelled = cancelled;
    this.opts.sendCancel(id);
    this.armDeadline(0);
    this.emit('staffAction', { action: 'cancel', actor: open.staffId, detail: { invitationId: id, reason } });
    return view;
  }

  /**
   * The terminal is listening (its hello). An invitation left open by a restart is sent to it again,
   * or its cancel if staff had cancelled it, once: at once when the hello lists the invitations its
   * journal holds reports for, and not at all if this one is listed (its report is on its way);
   * from a terminal that does not list them, after its journal replay has had time to close it.
   * The terminal takes an invite for the invitation it shows as the same one.
   */
  resume(terminal: TerminalInfo): void {
    // The terminal's pause lasts a session with this bridge: said again after every hello.
    if (this.paused) this.opts.sendPause(true);
    const resumed = this.resumed;
    const open = this.open;
    if (!resumed || resumed.resend !== undefined || !open) return;
    if (terminal.pending?.includes(open.id)) this.resumed = undefined;
    else if (terminal.pending) this.resend();
    else resumed.resend = this.opts.timers.setTimeout(() => this.resend(), RESUME_REPLAY_MS);
  }

  private resend(): void {
    this.resumed = undefined;
    const open = this.open;
    if (!open) return;
    // The screen has the press: the terminal is only to go dark (its cancel answer is expected).
    if (open.pressed?.via === 'screen') {
      this.opts.sendCancel(open.id);
      return;
    }
    if (open.cancelled) {
      this.opts.sendCancel(open.id);
      this.armDeadline(CANCEL_GRACE_MS);
      return;
    }
    const left = open.timeoutMs - this.elapsedSince(open.invitedAt, open.clock);
    if (left > 0) {
      this.opts.sendInvite(open.id, left, open.reasonCatalog?.reasons.length ?? 0, this.opts.reasonTimeoutMs);
      return;
    }
    // Its time ran out while the bridge was down, and the terminal holds no report of it: it will
    // never show it nor report it, so waiting for a live terminal would only block the window.
    open.unheld = true;
    this.rearm(0);
  }

  /**
   * The terminal introduced itself. A new boot shows no open invitation; its hello lists the
   * invitations its journal still holds a report for. Listed: the report is on its way, and the
   * deadline stands. Not listed: no report will ever come, so the invitation closes now. A
   * terminal that does not say (pending null) is waited for until the deadline, never guessed at.
   */
  onTerminalHello(terminal: TerminalInfo): void {
    const previous = this.opts.settings.get(TERMINAL_BOOT_KEY);
    const identity = `${terminal.serial}/${terminal.boot}`;
    const open = this.open;
    // A press on the screen is the desk's own: the terminal's reset changes nothing of it.
    if (open && open.pressed?.via !== 'screen' && previous !== undefined && previous !== identity && terminal.pending && !terminal.pending.includes(open.id)) {
      this.closeOpen(open.cancelled ? 'cancelled' : 'not_rated', undefined, ['terminal_reset'], null);
    }
    this.opts.settings.set(TERMINAL_BOOT_KEY, identity);
  }

  private hold(invitation: OpenInvitation, leastMs: number): void {
    this.open = { ...invitation, backstop: undefined };
    this.armDeadline(leastMs);
  }

  /**
   * Arms the backstop at the open invitation's deadline, counted from when it was made (or
   * cancelled), so that a restart neither extends it nor cuts it short: at least `leastMs` from now.
   */
  private armDeadline(leastMs: number): void {
    const open = this.open;
    if (!open) return;
    const left = open.cancelled ? CANCEL_GRACE_MS - this.elapsedSince(open.cancelled.at, open.cancelled.clock) : this.deadlineLeft(open);
    this.rearm(Math.max(leastMs, left));
  }

  /** Until the terminal must have reported: its timeout, the reason time, the grace for the line. */
  private deadlineLeft(open: OpenInvitation): number {
    return this.opts.timeoutMs + this.opts.reasonTimeoutMs + this.opts.graceMs - this.elapsedSince(open.invitedAt, open.clock);
  }

  /**
   * Milliseconds since a moment: on the monotonic clock within the same boot of the machine (a
   * restarted bridge counts on), else on the wall clock, which may have been corrected meanwhile.
   */
  private elapsedSince(at: string, then: ClockStamp | undefined): number {
    const { clock } = this.opts;
    const elapsed = then?.bootId === clock.bootId ? clock.monoMs() - then.monoMs : clock.now().getTime() - Date.parse(at);
    return Math.max(0, elapsed);
  }

  /** Unless the terminal reports first, the backstop looks at the open invitation again after `ms`. */
  private rearm(ms: number): void {
    const open = this.open;
    if (!open) return;
    this.opts.timers.clearTimeout(open.backstop);
    open.backstop = this.opts.timers.setTimeout(() => this.backstop(open), ms);
  }

  /**
   * The terminal decides, and the desk never closes a live terminal's invitation on its own: past
   * the deadline (or a cancel's grace) it closes only when the terminal is silent (device_silent),
   * and a terminal alive but never reporting only at the hard bound (report_overdue). A report
   * that comes after such a close is reconciled (see reconcile()).
   */
  private backstop(open: HeldInvitation): void {
    // The terminal has spoken: its resend, not silence, decides the outcome.
    if (open.reported) return this.rearm(STORAGE_RETRY_MS);
    // The screen has the press: its reason step closes it.
    if (open.pressed?.via === 'screen') return;
    const overdueIn = this.deadlineLeft(open) + REPORT_OVERDUE_MS;
    // A live terminal decides, unless it does not hold the invitation at all.
    const waitForTerminal = this.opts.terminalReady() && !open.unheld;
    if (waitForTerminal && overdueIn > 0) return this.rearm(Math.min(ALIVE_CHECK_MS, overdueIn));
    try {
      this.closeOpen(open.cancelled ? 'cancelled' : 'not_rated', undefined, [waitForTerminal ? 'report_overdue' : 'device_silent'], null);
      this.silentCloses.set(open.id, open.reasonCatalog ?? null);
      for (const id of this.silentCloses.keys()) if (this.silentCloses.size > SILENT_CLOSES_KEPT) this.silentCloses.delete(id);
    } catch (err) {
      // A disk that cannot store the outcome (the store logs and raises it): try again, never throw from a timer.
      if (!(err instanceof StorageFailure)) throw err;
      this.rearm(STORAGE_RETRY_MS);
    }
  }

  lookup(id: string): InvitationView | undefined {
    const open = this.current();
    if (open?.id === id) return { ...open, state: 'open' };
    const first = this.opts.outbox.get(id);
    if (first?.record.kind !== 'invitation') return undefined;
    // A late report reconciled into it: the invitation's one outcome is the reconciling record's.
    const stored = this.opts.outbox.supersededBy(id) ?? first;
    if (stored.record.kind !== 'invitation') return undefined;
    return { id, state: 'closed', outcome: stored.record.outcome, record: stored.record };
  }

  /**
   * The terminal took a bad grade for `inv` and offers `choices` reasons on its buttons: the
   * terminal has the press (a screen press now is a second one), and the offer is announced.
   */
  onTerminalChoosing(inv: string, choices: number): void {
    const open = this.open;
    if (open?.id !== inv || open.pressed) return;
    open.pressed = { via: 'terminal' };
    this.emit('choosing', { invitationId: inv, reasons: offeredReasons(open.reasonCatalog, choices), via: 'terminal' });
  }

  /**
   * The citizen touched `grade` on the customer screen for the open invitation `invitationId`: the
   * same one-press rule as the buttons, whichever the desk hears of first. A bad grade with a
   * reason catalogue waits for screenReason() or the reason timeout; any other is rated at once.
   * Either way the terminal is sent a cancel, so that its buttons go dark (its answer is expected).
   * Returns the reasons offered (none when rated at once). A second press (on the screen after
   * either channel's press, or for an invitation closed) is counted and refused.
   */
  screenPress(invitationId: string, grade: Grade): { reasons: OfferedReason[] } {
    const open = this.open;
    // A report the terminal made that the disk could not store yet (`reported`) was heard first too.
    if (open?.id !== invitationId || open.cancelled || open.pressed || open.reported) {
      const why = this.notOpenForScreen(invitationId);
      this.counts.screenPressesIgnored += 1;
      throw why;
    }
    const latencyMs = Math.round(this.elapsedSince(open.invitedAt, open.clock));
    const reasons = GRADE_INFO[grade].class === 'bad' ? offeredReasons(open.reasonCatalog) : [];
    if (reasons.length === 0) {
      try {
        this.closeOpen('rated', { grade, latencyMs }, [], null, 'screen');
      } catch (err) {
        if (!(err instanceof StorageFailure)) throw err;
        throw new DeskError(507, 'storage_full', `${err.message}; the press was not taken: touch the grade again`);
      }
      this.opts.sendCancel(invitationId);
      return { reasons };
    }
    // Stored before it is taken: a restart while the reason is chosen keeps the press.
    this.commitOrRefuse(() => this.opts.settings.set(SCREEN_PRESS_KEY, JSON.stringify({ id: invitationId, grade, latencyMs })));
    this.holdScreenPress(open, grade, latencyMs);
    this.opts.sendCancel(invitationId);
    this.emit('choosing', { invitationId, reasons, via: 'screen' });
    return { reasons };
  }

  /**
   * The reason the citizen chose on the screen after a bad grade there: its button (0-based, as
   * offered), or null when they skipped it (rated without a reason, flagged no_reason and reason_skipped).
   */
  screenReason(invitationId: string, button: number | null): void {
    const open = this.open;
    if (open?.id !== invitationId || open.pressed?.via !== 'screen') {
      if (open?.id === invitationId) throw new DeskError(409, 'invitation_open', `invitation ${invitationId} has no bad grade on the screen waiting for its reason`);
      throw this.notOpenForScreen(invitationId);
    }
    const offered = open.reasonCatalog?.reasons.length ?? 0;
    if (button !== null && !(Number.isInteger(button) && button >= 0 && button < offered)) {
      throw new DeskError(400, 'invalid_request', `reason ${button} is not one of the ${offered} offered (0-${offered - 1}), nor null to skip it`);
    }
    if (!this.screenRated(open, button, button === null ? ['reason_skipped'] : [])) {
      throw new DeskError(507, 'storage_full', 'the disk cannot store the rating now: it is kept, and stored as soon as the disk allows');
    }
  }

  /** Why the screen may not touch `invitationId`: already pressed, closed, cancelled by staff, or unknown. */
  private notOpenForScreen(invitationId: string): DeskError {
    const open = this.open;
    if (open?.id === invitationId) {
      const onTerminal = open.reported || open.pressed?.via === 'terminal';
      const why = open.pressed || open.reported ? `already has its press${onTerminal ? ' on the terminal' : ''}: one service, one rating` : 'cancelled by staff';
      return new DeskError(409, 'invitation_closed', `invitation ${invitationId} ${why}`);
    }
    const view = this.lookup(invitationId);
    if (view?.state === 'closed') return new DeskError(409, 'invitation_closed', `invitation ${invitationId} is already closed: ${view.outcome}`);
    return new DeskError(404, 'not_found', `no invitation ${invitationId} at window ${this.opts.identity.windowNo}`);
  }

  /**
   * Closes an invitation rated on the screen with its reason (or none: `flags` say why). A disk
   * that cannot store it now is tried again until it can (false): the press is never lost.
   */
  private screenRated(open: HeldInvitation, reason: number | null, flags: string[]): boolean {
    const pressed = open.pressed;
    if (this.open !== open || pressed?.via !== 'screen') return true;
    this.opts.timers.clearTimeout(pressed.reasonTimer);
    try {
      this.closeOpen('rated', { grade: pressed.grade, latencyMs: pressed.latencyMs, reason }, flags, null, 'screen');
      return true;
    } catch (err) {
      if (!(err instanceof StorageFailure)) throw err;
      pressed.reasonTimer = this.opts.timers.setTimeout(() => this.screenRated(open, reason, flags), STORAGE_RETRY_MS);
      return false;
    }
  }

  /** Handles one report from the terminal. Throws if it could not be stored (the terminal resends). */
  onTerminalReport(report: TerminalReport, terminal: TerminalInfo): void {
    if (report.type === 'stuck') {
      this.storeEvent('stuck_button', { button: report.button, heldMs: report.heldMs }, `${terminal.serial}/stuck/${report.ref}`, terminal);
      return;
    }
    if (report.type === 'stray') {
      this.lastStrayAt = this.opts.clock.now().getTime();
      // Keyed by the press's own ref: a resend, or a replay after a reset, is stored once.
      this.storeEvent('stray_press', { grade: report.grade }, `${terminal.serial}/stray/${report.ref}`, terminal);
      return;
    }
    const open = this.open;
    const rating = report.type === 'rating' ? { grade: report.grade, latencyMs: report.latencyMs, reason: report.reason } : undefined;
    if (open?.id === report.inv && open.pressed?.via === 'screen') {
      // The screen had the press: the terminal's cancel confirms what the desk sent it, its press is a second one.
      this.countAfterScreen(rating !== undefined);
      return;
    }
    if (open?.id === report.inv) {
      // No press either way: a cancel staff asked for stands over an expiry (its reason is counted).
      const outcome: Outcome = rating ? 'rated' : report.type === 'expired' && !open.cancelled ? 'not_rated' : 'cancelled';
      try {
        this.closeOpen(outcome, rating, [], terminal.serial);
      } catch (err) {
        if (err instanceof StorageFailure) open.reported = true;
        throw err;
      }
      return;
    }
    const stored = this.opts.outbox.get(report.inv)?.record;
    const closed = stored?.kind === 'invitation' ? stored : undefined;
    if (closed?.channel === 'screen') return this.countAfterScreen(rating !== undefined);
    // A resend: the record already says whether the citizen pressed.
    if (closed && (closed.outcome === 'rated') === (rating !== undefined)) return;
    if (closed && rating && CLOSED_WITHOUT_TERMINAL.some((flag) => closed.flags.includes(flag))) return this.reconcile(closed, rating, terminal);
    // Closed otherwise (the terminal said something else of it), or unknown: kept as an event; the
    // invitation keeps its one outcome.
    this.storeEvent(
      'late_device_report',
      { invitationId: report.inv, report: report.type, grade: rating?.grade ?? null },
      `${terminal.serial}/late/${report.inv}/${report.type}`,
      terminal,
    );
  }

  /**
   * The terminal's rating for an invitation the desk had closed without it (silent, or overdue):
   * what the citizen did is the outcome. A new record (new id) takes the earlier one's place at
   * the receiver (`supersedes`), flagged `reconciled`; stored once however often it is resent.
   */
  private reconcile(closed: StoredInvitation, rating: ReportedRating, terminal: TerminalInfo): void {
    const basis: OpenInvitation = {
      id: this.opts.newId(),
      staffId: closed.staffId,
      services: closed.services,
      mode: closed.mode,
      proxy: closed.proxy,
      test: closed.test,
      invitedAt: closed.invitedAt,
      timeoutMs: this.opts.timeoutMs,
      flags: closed.flags.filter((flag) => !CLOSED_WITHOUT_TERMINAL.includes(flag)),
      // The catalogue it offered, if this process closed it; after a restart, the current one.
      reasonCatalog: this.silentCloses.has(closed.id) ? this.silentCloses.get(closed.id) : this.opts.reasonCatalog(),
    };
    const record: StoredInvitation = { ...this.recordOf(basis, 'rated', rating, ['reconciled'], terminal.serial), supersedes: closed.id };
    if (!this.opts.transaction(() => this.opts.outbox.append(record, `reconcile/${closed.id}`))) return;
    this.opts.logger.info({ id: record.id, supersedes: closed.id }, 'a late rating reconciled an invitation closed without the terminal');
    this.emit('reconciled', record);
  }

  private countAfterScreen(pressed: boolean): void {
    if (pressed) this.counts.terminalPressesIgnored += 1;
    else this.counts.terminalCancelsAfterScreen += 1;
  }

  stop(): void {
    if (this.open) this.opts.timers.clearTimeout(this.open.backstop);
    if (this.open?.pressed?.via === 'screen') this.opts.timers.clearTimeout(this.open.pressed.reasonTimer);
    if (this.resumed) this.opts.timers.clearTimeout(this.resumed.resend);
  }

  /** Commits a change staff asked for; a database that cannot store it is a refusal they can act on. */
  private commitOrRefuse(fn: () => void): void {
    try {
      this.opts.transaction(fn);
    } catch (err) {
      if (!(err instanceof StorageFailure)) throw err;
      throw new DeskError(507, 'storage_full', `${err.message}; nothing was changed, and no record already stored is lost`);
    }
  }

  /** Closes the open invitation: its one record and the open row's deletion, one commit. */
  private closeOpen(outcome: Outcome, reported: ReportedRating | undefined, flags: string[], device: string | null, via: RatedVia = 'counter'): void {
    const open = this.open;
    if (!open) return;
    const record = this.recordOf(open, outcome, reported, flags, device, via);
    this.opts.transaction(() => {
      this.opts.outbox.append(record);
      this.opts.openStore.delete(open.id);
      if (open.pressed?.via === 'screen') this.opts.settings.set(SCREEN_PRESS_KEY, null);
    });
    this.opts.timers.clearTimeout(open.backstop);
    this.open = undefined;
    // Never the grade: logs are read at the counter and by whoever holds the Pi (invariant 8).
    this.opts.logger.info({ id: record.id, outcome }, 'invitation closed');
    this.emit('closed', record);
  }

  /** The record of an invitation's outcome, honesty flags included; `device` is the reporting terminal's serial. */
  private recordOf(open: OpenInvitation, outcome: Outcome, reported: ReportedRating | undefined, flags: string[], device: string | null, via: RatedVia = 'counter'): StoredInvitation {
    const { identity, clock } = this.opts;
    // The terminal takes a press only within the timeout it enforces: a longer latency is impossible
    // (and years of it would make no valid press time), so it is cut to the timeout and flagged.
    const rating = reported && { ...reported, latencyMs: Math.min(reported.latencyMs, open.timeoutMs) };
    const honesty = rating ? ratingFlags(rating, { outbox: this.opts.outbox, rules: this.opts.honesty, now: clock.now() }) : [];
    if (reported && reported.latencyMs > open.timeoutMs) honesty.push('implausible_latency');
    // A bad review carries its reason from the catalogue the invitation offered, or is flagged.
    const catalog = open.reasonCatalog ?? null;
    const reasonCode = rating?.reason != null ? catalog?.reasons[rating.reason]?.code : undefined;
    if (rating && GRADE_INFO[rating.grade].class === 'bad' && reasonCode === undefined) honesty.push('no_reason');
    return {
      id: open.id,
      kind: 'invitation',
      schema: RECORD_SCHEMA_VERSION,
      ...identity,
      staffId: open.staffId,
      services: open.services,
      mode: open.mode,
      proxy: open.proxy,
      invitedAt: open.invitedAt,
      closedAt: clock.now().toISOString(),
      outcome,
      ...(rating && {
        rating: {
          grade: rating.grade,
          reasons: reasonCode === undefined ? [] : [reasonCode],
          reasonCatalogVersion: catalog?.version ?? null,
          // The terminal measures latency on its own monotonic clock from the moment it was invited.
          pressedAt: new Date(Date.parse(open.invitedAt) + rating.latencyMs).toISOString(),
          latencyMs: rating.latencyMs,
        },
      }),
      channel: via,
      ...(outcome === 'cancelled' && open.cancelled && { cancelReason: open.cancelled.reason }),
      flags: [...(open.flags ?? []), ...honesty, ...flags],
      test: open.test,
      clock: stamp(clock),
      device,
    };
  }

  /** A self-test's round-trip record: an event marked test, so the province never counts it. */
  recordSelftest(detail: StoredEvent['detail'], terminal: TerminalInfo | null): string {
    const id = this.opts.newId();
    this.storeEvent('selftest', detail, `selftest/${id}`, terminal, { id, test: true });
    return id;
  }

  private storeEvent(
    type: StoredEvent['type'],
    detail: StoredEvent['detail'],
    sourceKey: string,
    terminal: TerminalInfo | null,
    { id = this.opts.newId(), test = false }: { id?: string; test?: boolean } = {},
  ): void {
    const { identity, clock } = this.opts;
    const event: StoredEvent = {
      id,
      kind: 'event',
      schema: RECORD_SCHEMA_VERSION,
      ...identity,
      staffId: this.staffId,
      type,
      at: clock.now().toISOString(),
      device: terminal?.serial ?? null,
      // Layout 1 named the reporting terminal in detail.device; kept there until the layout that carries `device` replaces it.
      detail: { ...detail, device: terminal?.serial ?? null },
      flags: [],
      test,
      clock: stamp(clock),
    };
    if (this.opts.transaction(() => this.opts.outbox.append(event, sourceKey))) this.emit('event', event);
  }
}
