import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeskError, InvitationDesk, type InvitationDeskOptions } from '../../bridge/desk/invitation-desk.js';
import { openDatabase } from '../../bridge/store/database.js';
import { Outbox } from '../../bridge/store/outbox.js';
import { StorageFailure } from '../../bridge/store/commits.js';
import type { TerminalInfo, TerminalReport } from '../../bridge/terminal/terminal-link.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { CANCEL_REASONS, type CancelReason } from '../../protocol/cancel-reasons.js';
import { GRADE_CODE_PROFILES, GRADES, type GradeCodeProfileName, type Grade } from '../../protocol/grades.js';
import { invitationRequestSchema, signInRequestSchema } from '../../protocol/http-api.js';
import { decodeRecord, encodeRecord, RECORD_FORMATS, type RecordFormatName } from '../../protocol/record-formats/index.js';
import type { StoredInvitation } from '../../protocol/records.js';
import { REFUSALS } from '../../protocol/refusals.js';
import { terminalMessageSchema } from '../../protocol/serial-messages.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';
import { deskOptions, GRACE_MS, REASON_MS, TIMEOUT_MS } from '../support/desk-options.js';

/*
 * The desk against random sequences of what staff and the terminal do, junk included: a real desk
 * on in-memory SQLite, its backstops on manual timers, restarts of the bridge on the same database.
 * A full disk comes and goes (SQLITE_FULL for real): what the desk cannot store, the terminal resends.
 * Seeded and bounded: the same sequences on every run, in a few seconds.
 */
const SEED = 20_261_129;
const RUNS = 600;

/** Which invitation an action names: the open one, one made earlier, or one never made. */
const target = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'open' as const }) },
  { weight: 2, arbitrary: fc.nat().map((n) => ({ kind: 'earlier' as const, n })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 70 }).map((id) => ({ kind: 'unknown' as const, id })) },
);
type Target = typeof target extends fc.Arbitrary<infer T> ? T : never;

const grade = fc.constantFrom(...GRADES);
const junkOr = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary: good }, { weight: 1, arbitrary: fc.anything() });
const service = fc.record({
  itemCode: fc.constantFrom('I-1', 'I-1', 'I-1', 'I-2', ' '),
  caseNo: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('C-1', 'C-2', 'C-3', 'C-4') }, { weight: 1, arbitrary: fc.string({ maxLength: 70 }) }),
});
const oneService = fc.record({ services: fc.tuple(service), test: fc.boolean() });
const someServices = fc.record({ services: fc.array(service, { minLength: 0, maxLength: 3 }), mode: fc.constantFrom(undefined, 'single', 'batch', 'theme') }, { requiredKeys: ['services'] });

const step = fc.oneof(
  fc.record({ kind: fc.constant('signIn' as const), body: junkOr(fc.record({ staffId: fc.constantFrom('S-1', 'S-2') })) }),
  fc.record({ kind: fc.constant('signOut' as const) }),
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('invite' as const), body: junkOr(fc.oneof({ weight: 4, arbitrary: oneService }, someServices)) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), target, reason: fc.constantFrom(...(Object.keys(CANCEL_REASONS) as CancelReason[])) }) },
  { weight: 5, arbitrary: fc.record({
    kind: fc.constant('report' as const),
    type: fc.constantFrom('rating', 'rating', 'expired', 'cancelled'),
    target,
    grade,
    latencyMs: fc.oneof(fc.nat(70_000), fc.maxSafeNat(), fc.integer()),
    reason: fc.oneof(fc.constant(null), fc.integer({ min: -1, max: 6 })),
  }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('screenPress' as const), target, grade }) },
  fc.record({ kind: fc.constant('screenReason' as const), target, button: fc.oneof(fc.constant(null), fc.integer({ min: -1, max: 6 }), fc.constant(0.5)) }),
  fc.record({ kind: fc.constant('choosing' as const), target, choices: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('stray' as const), grade, ref: fc.constantFrom('p1', 'p2', 'p3', '') }),
  fc.record({ kind: fc.constant('stuck' as const), button: fc.integer({ min: -1, max: 5 }), heldMs: fc.nat(), ref: fc.constantFrom('s1', 's2') }),
  fc.record({ kind: fc.constant('resend' as const), back: fc.nat(8) }),
  fc.record({ kind: fc.constant('hello' as const), newBoot: fc.boolean(), pending: fc.constantFrom('null', 'none', 'open') }),
  fc.record({ kind: fc.constant('restart' as const), reboot: fc.boolean() }),
  fc.record({ kind: fc.constant('disk' as const), full: fc.boolean() }),
  fc.record({ kind: fc.constant('line' as const), alive: fc.boolean() }),
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.oneof(fc.nat(5000), fc.nat(120_000)) }) },
);
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

/** A desk on one in-memory database that outlives restarts of the desk, and what the test saw it do. */
function world() {
  const timers = new ManualTimers();
  const db = openDatabase(':memory:');
  let clock = new TimeKeeper(manualWall(timers), 'boot-1', 'system');
  const outbox = new Outbox(db, clock);
  // One source of ids across restarts, as UUIDv7 is; a reboot brings a new clock.
  const base = deskOptions(db, clock, timers);
  const options = (): InvitationDeskOptions => ({ ...base, clock, terminalReady: () => w.alive });
  const w = {
    /** Whether the terminal is heard from (its heartbeats): the desk closes an invitation on its own only when it is not. */
    alive: true,
    timers,
    outbox,
    desk: new InvitationDesk(options()),
    made: [] as string[],
    /** Per invitation, the reason of the first cancel staff made of it: a cancelled outcome carries it. */
    cancelled: new Map<string, CancelReason>(),
    /**
     * Per invitation, the grade of the first rating the terminal reported while it was open, or
     * after the desk had closed it without the terminal: that is its outcome, whatever staff did.
     */
    pressed: new Map<string, Grade>(),
    delivered: [] as TerminalReport[],
    /** Reports the desk could not store (a full disk): the terminal keeps them and resends them. */
    unacked: [] as TerminalReport[],
    /** Fills the database to its last page (SQLITE_FULL for real), or makes room again. */
    disk(full: boolean): void {
      db.pragma(`max_page_count = ${full ? (db.pragma('page_count', { simple: true }) as number) : 1_000_000}`);
    },
    terminal: { serial: 'DEV-1', fw: '1.0.0', boot: 'b1', proto: 1, pending: null } as TerminalInfo,
    seq: 0,
    restart(reboot: boolean): void {
      w.desk.stop();
      if (reboot) clock = new TimeKeeper(manualWall(timers), `boot-${timers.now()}`, 'system');
      w.desk = new InvitationDesk(options());
      // The terminal answers the new bridge's hello and replays what it has not had acknowledged.
      hello(w, { ...w.terminal, pending: journaled(w) });
      for (const report of [...w.unacked]) offer(w, report);
    },
  };
  // Mostly a staff member at the window, as in a working day; sign-in and sign-out steps vary it.
  w.desk.signIn('S-1');
  return w;
}
type World = ReturnType<typeof world>;

function resolve(w: World, t: Target): string {
  if (t.kind === 'open') return w.desk.current()?.id ?? w.made.at(-1) ?? 'none-yet';
  if (t.kind === 'earlier') return w.made[t.n % Math.max(1, w.made.length)] ?? 'none-yet';
  return t.id;
}

/** A staff action: it succeeds, or is refused with a DeskError that says what and where. */
function staff(action: () => void): void {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(DeskError);
    const refusal = err as DeskError;
    expect(REFUSALS[refusal.code].status).toBe(refusal.status);
    expect(refusal.message.length).toBeGreaterThan(10);
  }
}

/** A report as the link hands it on: only what its schema takes gets this far. */
function deliver(w: World, message: Record<string, unknown>): void {
  const parsed = terminalMessageSchema.safeParse({ ...message, seq: ++w.seq });
  if (!parsed.success) return;
  const report = parsed.data as TerminalReport;
  // A terminal reports one outcome per invitation: while one waits in its journal, it says nothing else of it.
  if ('inv' in report && w.unacked.some((u) => 'inv' in u && u.inv === report.inv)) return;
  if (report.type === 'rating' && !w.pressed.has(report.inv) && (w.desk.current()?.id === report.inv || closedWithoutTerminal(w, report.inv))) {
    w.pressed.set(report.inv, report.grade);
  }
  w.delivered.push(report);
  offer(w, report);
}

/** The desk closed this invitation on its own (silent or overdue terminal), and no rating has taken its place yet. */
function closedWithoutTerminal(w: World, id: string): boolean {
  const record = w.outbox.get(id)?.record;
  return record?.kind === 'invitation' && record.outcome !== 'rated' && record.flags.some((f) => f === 'device_silent' || f === 'report_overdue');
}

/** The invitations the terminal's journal holds a report for. */
function journaled(w: World): string[] {
  return w.unacked.flatMap((r) => ('inv' in r ? [r.inv] : []));
}

/** The desk takes a report, or (a full disk) throws StorageFailure and the terminal keeps it to resend. */
function offer(w: World, report: TerminalReport): void {
  const waiting = w.unacked.indexOf(report);
  try {
    w.desk.onTerminalReport(report, w.terminal);
  } catch (err) {
    expect(err).toBeInstanceOf(StorageFailure);
    if (waiting < 0) w.unacked.push(report);
    return;
  }
  if (waiting >= 0) w.unacked.splice(waiting, 1);
}

/** The terminal's hello; one the disk cannot store is not acknowledged, and comes again. */
function hello(w: World, terminal: TerminalInfo): void {
  w.terminal = terminal;
  try {
    w.desk.onTerminalHello(terminal);
  } catch (err) {
    expect(err).toBeInstanceOf(StorageFailure);
    return;
  }
  w.desk.resume(terminal);
}

function run(w: World, s: Step): void {
  switch (s.kind) {
    case 'signIn': {
      const body = signInRequestSchema.safeParse(s.body);
      if (body.success) staff(() => w.desk.signIn(body.data.staffId));
      return;
    }
    case 'signOut':
      return staff(() => w.desk.signOut());
    case 'invite': {
      const body = invitationRequestSchema.safeParse(s.body);
      if (body.success) staff(() => void w.made.push(w.desk.invite(body.data).id));
      return;
    }
    case 'cancel': {
      const id = resolve(w, s.target);
      return staff(() => {
        w.desk.cancel(id, s.reason);
        if (!w.cancelled.has(id)) w.cancelled.set(id, s.reason);
      });
    }
    case 'screenPress': {
      // The customer screen's touch: taken (then it is the invitation's press, whichever came later), or refused.
      const id = resolve(w, s.target);
      return staff(() => {
        w.desk.screenPress(id, s.grade);
        if (!w.pressed.has(id)) w.pressed.set(id, s.grade);
      });
    }
    case 'screenReason':
      return staff(() => w.desk.screenReason(resolve(w, s.target), s.button));
    case 'choosing':
      return w.desk.onTerminalChoosing(resolve(w, s.target), s.choices);
    case 'report':
      return deliver(w, { type: s.type, inv: resolve(w, s.target), grade: s.grade, latencyMs: s.latencyMs, reason: s.reason });
    case 'stray':
      return deliver(w, { type: 'stray', grade: s.grade, ref: s.ref });
    case 'stuck':
      return deliver(w, { type: 'stuck', button: s.button, heldMs: s.heldMs, ref: s.ref });
    case 'resend': {
      const again = w.unacked[0] ?? w.delivered.at(-1 - s.back);
      if (again) offer(w, again);
      return;
    }
    case 'hello': {
      const open = w.desk.current()?.id;
      // A hello that lists its journal lists every report in it (they survive a reset), perhaps the open invitation too.
      const pending = s.pending === 'null' ? null : [...journaled(w), ...(s.pending === 'open' && open ? [open] : [])];
      return hello(w, { ...w.terminal, boot: s.newBoot ? `b${w.seq}` : w.terminal.boot, pending });
    }
    case 'disk':
      return w.disk(s.full);
    case 'line':
      w.alive = s.alive;
      return;
    case 'restart':
      return w.restart(s.reboot);
    case 'advance':
      return w.timers.advance(s.ms);
  }
}

describe('fuzz: the desk amid junk, resends, resets and restarts', () => {
  it('one outcome per invitation (a late rating reconciled in its place), a press (buttons or screen) always beats a cancel, only DeskError refusals, every record in every layout', () => {
    /** Ratings made on the screen across the runs: the sequences reach that path too. */
    let onScreen = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80, size: 'max' }), (steps) => {
        const w = world();
        for (const s of steps) run(w, s);
        // Room again: the terminal's resends are stored.
        w.disk(false);
        for (const report of [...w.unacked]) offer(w, report);
        expect(w.unacked).toEqual([]);
        // Long enough for every backstop: whatever is still open closes.
        w.timers.advance(10 * (TIMEOUT_MS + REASON_MS + GRACE_MS));
        expect(w.desk.current()).toBeUndefined();

        const stored = w.outbox.pending(0, Number.MAX_SAFE_INTEGER, 100_000);
        const invitations = stored.filter((e) => e.record.kind === 'invitation').map((e) => e.record as StoredInvitation);
        const closings = invitations.filter((r) => r.supersedes === undefined);
        onScreen += closings.filter((r) => r.channel === 'screen').length;
        expect(closings.map((r) => r.id).sort()).toEqual([...w.made].sort());
        // A reconciling record: a rating, in the place of one the desk closed without the terminal, at most one each.
        const reconciled = new Map<string, StoredInvitation>();
        for (const r of invitations.filter((r) => r.supersedes !== undefined)) {
          const earlier = closings.find((c) => c.id === r.supersedes);
          expect(earlier, `${r.id} supersedes ${r.supersedes}`).toBeDefined();
          expect(earlier!.outcome).not.toBe('rated');
          expect(earlier!.flags.some((f) => f === 'device_silent' || f === 'report_overdue')).toBe(true);
          expect(r).toMatchObject({ outcome: 'rated', flags: expect.arrayContaining(['reconciled']), invitedAt: earlier!.invitedAt, device: w.terminal.serial });
          expect(reconciled.has(r.supersedes!), `${r.supersedes} reconciled twice`).toBe(false);
          reconciled.set(r.supersedes!, r);
        }
        const outcomeOf = (id: string): StoredInvitation | undefined => reconciled.get(id) ?? closings.find((r) => r.id === id);
        for (const [id, pressed] of w.pressed) {
          expect(outcomeOf(id), `invitation ${id}, pressed ${pressed}`).toMatchObject({ outcome: 'rated', rating: { grade: pressed } });
        }
        for (const id of w.made) if (!w.pressed.has(id)) expect(outcomeOf(id)?.outcome, `invitation ${id}, never pressed`).not.toBe('rated');
        // A cancelled outcome names staff's reason when staff cancelled it; a rating never carries one.
        for (const r of closings) {
          if (r.outcome === 'cancelled') expect(r.cancelReason, `invitation ${r.id}`).toBe(w.cancelled.get(r.id));
          else expect(r, `invitation ${r.id}`).not.toHaveProperty('cancelReason');
        }
        for (const { seq, record } of stored) {
          for (const format of Object.keys(RECORD_FORMATS) as RecordFormatName[]) {
            for (const profile of Object.keys(GRADE_CODE_PROFILES) as GradeCodeProfileName[]) {
              const decoded = decodeRecord(encodeRecord(format, record, seq, profile));
              expect(decoded, `${record.kind} ${record.id} in ${format}/${profile}`).toMatchObject({ kind: 'record', id: record.id });
            }
          }
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(onScreen).toBeGreaterThan(RUNS / 10);
  });
});
