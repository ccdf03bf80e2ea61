import { describe, expect, it } from 'vitest';
import { dailyStats } from '../../bridge/desk/daily-stats.js';
import { InvitationDesk } from '../../bridge/desk/invitation-desk.js';
import { openDatabase } from '../../bridge/store/database.js';
import { InvitationCounts } from '../../bridge/store/invitation-counts.js';
import type { TerminalInfo } from '../../bridge/terminal/terminal-link.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { CANCEL_REASONS } from '../../protocol/cancel-reasons.js';
import { GRADES, type Grade } from '../../protocol/grades.js';
import { deskOptions, GRACE_MS, REASON_MS, TIMEOUT_MS } from '../support/desk-options.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';

/** A window's day played through a real desk on in-memory SQLite, starting 2026-03-02 09:00 China time. */
function day() {
  const timers = new ManualTimers();
  const clock = new TimeKeeper(manualWall(timers), 'boot-1', 'system');
  const db = openDatabase(':memory:');
  const line = { alive: true };
  const desk = new InvitationDesk({ ...deskOptions(db, clock, timers), terminalReady: () => line.alive });
  const counts = new InvitationCounts(db);
  const terminal: TerminalInfo = { serial: 'DEV-1', fw: '1.0.0', boot: 'b1', proto: 1 };
  let seq = 0;
  let cases = 0;
  const invite = (staffId: string, test = false): string => {
    if (desk.staffId !== staffId) desk.signIn(staffId);
    return desk.invite({ services: [{ itemCode: 'I-1', caseNo: `C-${++cases}` }], mode: 'single', proxy: false, test }).id;
  };
  const rate = (staffId: string, grade: Grade, test = false): void => {
    const inv = invite(staffId, test);
    desk.onTerminalReport({ type: 'rating', seq: ++seq, inv, grade, latencyMs: 2000, reason: 0 }, terminal);
  };
  const expire = (staffId: string): void => desk.onTerminalReport({ type: 'expired', seq: ++seq, inv: invite(staffId) }, terminal);
  const cancel = (staffId: string, reason: keyof typeof CANCEL_REASONS): void => {
    const inv = invite(staffId);
    desk.cancel(inv, reason);
    desk.onTerminalReport({ type: 'cancelled', seq: ++seq, inv }, terminal);
  };
  return { timers, clock, desk, counts, terminal, line, invite, rate, expire, cancel, report: (r: Parameters<InvitationDesk['onTerminalReport']>[0]) => desk.onTerminalReport(r, terminal), nextSeq: () => ++seq };
}

const noCancels = Object.fromEntries([...Object.keys(CANCEL_REASONS), 'unstated'].map((c) => [c, 0]));

describe('daily stats: participation per day and per staff member, cancels counted', () => {
  it('参评率 = rated ÷ invitations, cancels in the denominator and counted by reason, per staff member too; tests never count', () => {
    const d = day();
    d.rate('S-1', 'very_satisfied');
    d.rate('S-1', 'dissatisfied');
    d.expire('S-1');
    d.cancel('S-1', 'citizen_left');
    d.rate('S-2', 'satisfied');
    d.cancel('S-2', 'wrong_case');
    d.cancel('S-2', 'wrong_case');
    d.rate('S-2', 'satisfied', true);
    const stats = dailyStats(d.counts, d.clock.now());
    expect(stats).toEqual({
      date: '2026-03-02',
      invitations: 7,
      rated: 3,
      notRated: 1,
      cancelled: 3,
      cancelledBy: { ...noCancels, citizen_left: 1, wrong_case: 2 },
      participationRate: 0.429,
      byStaff: [
        { staffId: 'S-1', invitations: 4, rated: 2, notRated: 1, cancelled: 1, cancelledBy: { ...noCancels, citizen_left: 1 }, participationRate: 0.5 },
        { staffId: 'S-2', invitations: 3, rated: 1, notRated: 0, cancelled: 2, cancelledBy: { ...noCancels, wrong_case: 2 }, participationRate: 0.333 },
      ],
    });
  });

  it('never names a grade: the counter must not learn one', () => {
    const d = day();
    for (const grade of GRADES) d.rate('S-1', grade);
    const text = JSON.stringify(dailyStats(d.counts, d.clock.now()));
    for (const grade of GRADES) expect(text).not.toContain(grade);
    expect(text).not.toMatch(/grade/i);
  });

  it('a reconciled invitation counts once, by its reconciled outcome', () => {
    const d = day();
    const inv = d.invite('S-1');
    d.line.alive = false;
    d.timers.advance(TIMEOUT_MS + REASON_MS + GRACE_MS);
    expect(dailyStats(d.counts, d.clock.now())).toMatchObject({ invitations: 1, rated: 0, notRated: 1 });
    d.report({ type: 'rating', seq: d.nextSeq(), inv, grade: 'satisfied', latencyMs: 3000, reason: null });
    expect(dailyStats(d.counts, d.clock.now())).toMatchObject({ invitations: 1, rated: 1, notRated: 0, participationRate: 1 });
  });

  it('a day is China time: the figures start again at 16:00 UTC; an empty day has no rate', () => {
    const d = day();
    d.rate('S-1', 'satisfied');
    const beforeMidnight = new Date('2026-03-02T15:59:59.999Z');
    expect(dailyStats(d.counts, beforeMidnight)).toMatchObject({ date: '2026-03-02', invitations: 1 });
    expect(dailyStats(d.counts, new Date('2026-03-02T16:00:00Z'))).toEqual({
      date: '2026-03-03',
      invitations: 0,
      rated: 0,
      notRated: 0,
      cancelled: 0,
      cancelledBy: noCancels,
      participationRate: null,
      byStaff: [],
    });
  });
});
