import type { Ack } from '../protocol/acks.js';
import type { LinkRejectReason } from '../protocol/link.js';
import type { TerminalInfo } from './terminal/terminal-link.js';
import type { OpenInvitation } from './desk/invitation-desk.js';
import type { StoredEvent, StoredInvitation } from '../protocol/records.js';
import type { StaffActionEntry } from '../protocol/staff-actions.js';

/** What a bridge announces: the simulator and the features (bridge/features/) listen. */
export type BridgeEvents = {
  invitation: [OpenInvitation];
  closed: [StoredInvitation];
  event: [StoredEvent];
  acked: [Ack];
  /** Acks for ids it did not publish or no longer awaits (replays, forgeries): dropped, counted in status. */
  ignoredAcks: [ids: string[]];
  printed: [{ id: string; invitationId: string }];
  terminal: [TerminalInfo];
  frameRejected: [LinkRejectReason, string];
  broker: ['connected' | 'disconnected'];
  /** Staff, a technician or an operator did something the audit keeps (bridge/features/audit.ts). */
  staffAction: [StaffActionEntry];
  /** The config file changed (update-config): whoever started the bridge restarts it. */
  restartRequested: [string];
};
