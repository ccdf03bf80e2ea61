import type { Ack } from '../protocol/acks.js';
import type { LinkRejectReason } from '../protocol/link.js';
import type { TerminalInfo } from './terminal/terminal-link.js';
import type { OpenInvitation } from './desk/invitation-desk.js';
import type { StoredEvent, StoredInvitation } from '../protocol/records.js';
import type { StaffActionEntry } from '../protocol/staff-actions.js';
import type { Announcement } from '../protocol/voice-prompts.js';

/** A reason the citizen is offered after a bad grade: its button (0-based) and the catalogue's label. */
export interface OfferedReason {
  button: number;
  code: string;
  label: string;
}

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
  /**
   * After a bad grade, the citizen is choosing a reason for this invitation (on the terminal's
   * buttons, or on the customer screen): what is offered. No grade: the rating's record says it.
   */
  choosing: [{ invitationId: string; reasons: OfferedReason[]; via: 'terminal' | 'screen' }];
  /** Staff paused the window (暂停服务) or came back; `actor` is who did it. */
  paused: [{ paused: boolean; actor: string | null }];
  /** Staff asked the terminal to say a greeting or 请在一米线外等候. */
  announce: [Announcement];
  /** The config file changed (update-config): whoever started the bridge restarts it. */
  restartRequested: [string];
};
