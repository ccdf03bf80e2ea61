import type { CancelReason } from '../../protocol/cancel-reasons.js';
import type { Outcome, Service } from '../../protocol/records.js';
import type { DailyStats, Participation } from '../desk/daily-stats.js';
import type { InvitationView, OpenInvitation } from '../desk/invitation-desk.js';

/*
 * What the counter may see (ARCHITECTURE invariant 8): that the citizen rated, never how. Each
 * view lists the fields it shows, so that a field added to a record later stays out until it is
 * chosen here: no grade, no reason, no grade code, no press latency, no honesty flag (no_reason
 * would tell a bad grade).
 */

/** Flags that speak of the terminal's health, not of the citizen's press. */
const HEALTH_FLAGS = new Set(['device_silent', 'terminal_reset']);

interface InvitationFacts {
  id: string;
  staffId: string;
  services: Service[];
  mode: OpenInvitation['mode'];
  proxy: boolean;
  test: boolean;
  invitedAt: string;
}

export type StaffInvitationView =
  | (InvitationFacts & { state: 'open' | 'cancelling'; timeoutMs: number; cancelReason?: CancelReason })
  | (InvitationFacts & { state: 'closed'; outcome: Outcome; closedAt: string; cancelReason?: CancelReason; flags: string[] });

function facts(inv: InvitationFacts): InvitationFacts {
  return { id: inv.id, staffId: inv.staffId, services: inv.services, mode: inv.mode, proxy: inv.proxy, test: inv.test, invitedAt: inv.invitedAt };
}

export function openForStaff(open: OpenInvitation): StaffInvitationView {
  return {
    ...facts(open),
    state: open.cancelled ? 'cancelling' : 'open',
    timeoutMs: open.timeoutMs,
    ...(open.cancelled && { cancelReason: open.cancelled.reason }),
  };
}

export function invitationForStaff(view: InvitationView): StaffInvitationView {
  if (view.state === 'open') return openForStaff(view);
  const { record } = view;
  return {
    ...facts(record),
    state: 'closed',
    outcome: record.outcome,
    closedAt: record.closedAt,
    ...(record.cancelReason && { cancelReason: record.cancelReason }),
    flags: record.flags.filter((flag) => HEALTH_FLAGS.has(flag)),
  };
}

function participation(p: Participation): Participation {
  return { invitations: p.invitations, rated: p.rated, notRated: p.notRated, cancelled: p.cancelled, cancelledBy: p.cancelledBy, participationRate: p.participationRate };
}

/** Today's totals and 参评率 as staff see them, in all and per staff member: counts by outcome and cancel reason, never by grade. */
export function statsForStaff(stats: DailyStats): DailyStats {
  return { date: stats.date, ...participation(stats), byStaff: stats.byStaff.map((staff) => ({ staffId: staff.staffId, ...participation(staff) })) };
}
