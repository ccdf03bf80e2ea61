import type { Registration } from '../../protocol/registration.js';
import type { StateMessage } from './state-messages.js';
import type { TerminalFields, TerminalRow } from './terminal-rows.js';

/*
 * What one `…/state` message does to a terminal's row: pure, so that each rule has a test and
 * every instance, seeing the same message, comes to the same row. Every instance reads every
 * state (retained, unshared), in its own time: each decision is idempotent (the same message twice
 * changes nothing) and order-safe (an older state read late changes nothing).
 */

export type Approval = 'manual' | 'first-key';

/**
 * What the key in the message did:
 * - first-key: approved at once (approval first-key, a terminal with no approved key);
 * - new-pending: the first key of a terminal with none approved, waiting for the operator;
 * - key-pending: a key other than the approved one (or the one already pending): waits, never applied;
 * - same / same-pending: the key already approved / already pending;
 * - none: the message carried no key.
 */
export type KeyOutcome = 'first-key' | 'new-pending' | 'key-pending' | 'same' | 'same-pending' | 'none';

export type StateUpdate = Extract<StateMessage, { kind: 'state' }>;

export interface StateDecision {
  fields: TerminalFields;
  key: KeyOutcome;
  /** Whether the message's online/state was newer than the row's and was applied. */
  stateApplied: boolean;
}

export function fieldsOf(row: TerminalRow): TerminalFields {
  const { status, public_key, pending_key, pending_registration, area_code, hall_code, window_no, bridge_version, decided_at, decided_by, last_seen, online, state, state_at } = row;
  return { status, public_key, pending_key, pending_registration, area_code, hall_code, window_no, bridge_version, decided_at, decided_by, last_seen, online, state, state_at };
}

/** Where a registration says the terminal is. */
export function placeOf(registration: Registration): Pick<TerminalFields, 'area_code' | 'hall_code' | 'window_no' | 'bridge_version'> {
  return { area_code: registration.areaCode, hall_code: registration.hallCode, window_no: registration.windowNo, bridge_version: registration.bridge };
}

/**
 * `sessionAt`: the latest dated state this instance has read for the terminal. A last will is
 * undated; it ends the session of the latest birth before it, so it is applied only if the row
 * holds no later state than that one (an instance reading it late must not take a newer birth offline).
 * An instance that has read no dated state (it subscribed after the birth: the retained will was
 * its first message) cannot tell, and applies it; the birth it then reads, dated as the row's
 * state, brings the row online again. So whichever instance writes last, the row ends as the
 * topic's last message says.
 */
export function decideState(row: TerminalRow, message: StateUpdate, approval: Approval, now: Date, sessionAt: Date | undefined): StateDecision {
  const fields = fieldsOf(row);
  fields.last_seen = row.last_seen > now ? row.last_seen : now;
  const key = decideKey(row, message, approval, now, fields);

  const newer =
    message.at !== undefined
      ? row.state_at === null || message.at > row.state_at || (message.at.getTime() === row.state_at.getTime() && message.online && row.online === false)
      : row.state_at === null || sessionAt === undefined || row.state_at <= sessionAt;
  if (newer) {
    fields.online = message.online;
    fields.state = message.summary;
    if (message.at !== undefined) fields.state_at = message.at;
  }
  if (message.bridgeVersion !== undefined && newer && key !== 'key-pending' && key !== 'same-pending') fields.bridge_version = message.bridgeVersion;
  return { fields, key, stateApplied: newer };
}

function decideKey(row: TerminalRow, message: StateUpdate, approval: Approval, now: Date, fields: TerminalFields): KeyOutcome {
  const { publicKey, registration } = message;
  if (publicKey === undefined) return 'none';
  if (row.public_key === publicKey) {
    if (registration && row.status === 'approved') Object.assign(fields, placeOf(registration));
    return 'same';
  }
  const noKeyApproved = row.public_key === null && row.status !== 'revoked';
  if (noKeyApproved && approval === 'first-key') {
    Object.assign(fields, { status: 'approved', public_key: publicKey, pending_key: null, pending_registration: null, decided_at: now, decided_by: 'first-key' });
    if (registration) Object.assign(fields, placeOf(registration));
    return 'first-key';
  }
  // Nothing approved yet: where it says it is can be shown, it trusts nothing.
  if (noKeyApproved && registration) Object.assign(fields, placeOf(registration));
  if (row.pending_key === publicKey) {
    if (registration) fields.pending_registration = registration;
    return 'same-pending';
  }
  fields.pending_key = publicKey;
  fields.pending_registration = registration ?? null;
  return noKeyApproved && row.pending_key === null ? 'new-pending' : 'key-pending';
}
