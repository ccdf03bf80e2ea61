import type { UpstreamRecord } from '../../protocol/records.js';

/**
 * Whether a record is what the terminal or its invitations made, not an entry of the staff audit
 * (`staff_action` events ride the same outbox and uplink: bridge/features/audit.ts). Tests that
 * count a window's records count these.
 */
export function notAudit(record: Pick<UpstreamRecord, 'kind'> & { type?: string }): boolean {
  return !(record.kind === 'event' && record.type === 'staff_action');
}
