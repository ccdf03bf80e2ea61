import { registrationSchema } from '../../protocol/registration.js';
import { shortFingerprint } from './key-fingerprint.js';
import type { RosterEntry } from './roster-file.js';
import { fieldsOf, placeOf } from './state-decisions.js';
import type { TerminalFields, TerminalRow } from './terminal-rows.js';

/*
 * What one roster entry does to its terminal's row: pure, so that the whole roster is decided in
 * memory and written in a few statements (a fleet's roster is applied at every start).
 */

export const ROSTER_ACTOR = 'roster';

export type RosterOutcome = 'added' | 'approved' | 'replaced' | 'updated' | 'unchanged' | 'revokedSkipped';

export interface RosterDecision {
  outcome: RosterOutcome;
  /** The row to write, unless unchanged or skipped. */
  fields?: TerminalFields;
  /** The operator_actions line, with the fields. */
  action?: { action: 'approve' | 'replace-key' | 'update'; detail: Record<string, unknown> };
}

/**
 * `created`: the row was made empty for this roster (the terminal never spoke to the gateway).
 * A revoked terminal stays revoked: a roster re-read at every start must not undo an operator.
 */
export function decideRosterEntry(row: TerminalRow, created: boolean, entry: RosterEntry, path: string, now: Date): RosterDecision {
  if (row.status === 'revoked') return { outcome: 'revokedSkipped' };
  const fields = fieldsOf(row);
  const detail = { source: path, key: shortFingerprint(entry.publicKey) };
  if (row.public_key === entry.publicKey) {
    const place = { area_code: entry.areaCode ?? row.area_code, hall_code: entry.hallCode ?? row.hall_code, window_no: entry.windowNo ?? row.window_no };
    if (place.area_code === row.area_code && place.hall_code === row.hall_code && place.window_no === row.window_no) return { outcome: 'unchanged' };
    return {
      outcome: 'updated',
      fields: { ...fields, ...place },
      action: { action: 'update', detail: { ...detail, areaCode: place.area_code, hallCode: place.hall_code, windowNo: place.window_no } },
    };
  }
  // The terminal's own registration of this key says where it is, unless the roster does.
  const registration = registrationSchema.safeParse(row.pending_registration);
  const registered = row.pending_key === entry.publicKey && registration.success ? placeOf(registration.data) : undefined;
  const keepPending = row.pending_key !== entry.publicKey;
  Object.assign(fields, registered, {
    area_code: entry.areaCode ?? registered?.area_code ?? row.area_code,
    hall_code: entry.hallCode ?? registered?.hall_code ?? row.hall_code,
    window_no: entry.windowNo ?? registered?.window_no ?? row.window_no,
    status: 'approved',
    public_key: entry.publicKey,
    pending_key: keepPending ? row.pending_key : null,
    pending_registration: keepPending ? row.pending_registration : null,
    decided_at: now,
    decided_by: ROSTER_ACTOR,
  });
  const replaced = row.public_key;
  return {
    outcome: created ? 'added' : replaced ? 'replaced' : 'approved',
    fields,
    action: { action: replaced ? 'replace-key' : 'approve', detail: { ...detail, ...(replaced && { replaced: shortFingerprint(replaced) }), previousStatus: created ? null : row.status } },
  };
}
