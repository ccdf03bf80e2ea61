import type { InvitationRecord, UpstreamRecord } from './records.js';

/**
 * Why `record` may not take the place of `earlier` (undefined: it may). Only an invitation the
 * bridge closed without its terminal (device_silent or report_overdue, no device, not rated) of the
 * same terminal and invitation time is replaced; a rating is never overwritten. One rule for every
 * receiver: the province emulator and the gateway.
 */
export function supersedeRefusal(earlier: UpstreamRecord, record: InvitationRecord): string | undefined {
  const where = `supersedes: record ${earlier.id}`;
  if (earlier.kind !== 'invitation') return `${where} is an event, not an invitation`;
  if (earlier.terminalId !== record.terminalId || earlier.invitedAt !== record.invitedAt) return `${where} is another invitation (terminal or invitedAt differ)`;
  if (earlier.outcome === 'rated') return `${where} is rated: a rating is never replaced`;
  const closedWithoutTerminal = !earlier.device && earlier.flags.some((f) => f === 'device_silent' || f === 'report_overdue');
  return closedWithoutTerminal ? undefined : `${where} was closed on the terminal's own report: its outcome stands`;
}
