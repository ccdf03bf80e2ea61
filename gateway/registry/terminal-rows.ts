import type { Queryable } from '../db/database.js';
import { shortFingerprint } from './key-fingerprint.js';

/** A `terminals` row as the database returns it (timestamps as Date, jsonb as values). */
export interface TerminalRow {
  terminal_id: string;
  status: TerminalStatus;
  public_key: string | null;
  pending_key: string | null;
  pending_registration: unknown;
  area_code: string | null;
  hall_code: string | null;
  window_no: string | null;
  bridge_version: string | null;
  first_seen: Date;
  last_seen: Date;
  online: boolean | null;
  state: unknown;
  state_at: Date | null;
  telemetry: unknown;
  telemetry_at: Date | null;
  decided_at: Date | null;
  decided_by: string | null;
}

export type TerminalStatus = 'pending' | 'approved' | 'revoked';

/** A terminal as the admin API and the CLI show it: keys with the fingerprints an operator compares. */
export interface TerminalView {
  terminalId: string;
  status: TerminalStatus;
  publicKey: string | null;
  keyFingerprint: string | null;
  /** A key the terminal brought that is not the approved one: waits for `approve`. */
  pendingKey: string | null;
  pendingKeyFingerprint: string | null;
  pendingRegistration: unknown;
  areaCode: string | null;
  hallCode: string | null;
  windowNo: string | null;
  bridgeVersion: string | null;
  firstSeen: string;
  lastSeen: string;
  online: boolean | null;
  state: unknown;
  stateAt: string | null;
  telemetry: unknown;
  telemetryAt: string | null;
  decidedAt: string | null;
  decidedBy: string | null;
}

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

export function terminalView(row: TerminalRow): TerminalView {
  return {
    terminalId: row.terminal_id,
    status: row.status,
    publicKey: row.public_key,
    keyFingerprint: row.public_key ? shortFingerprint(row.public_key) : null,
    pendingKey: row.pending_key,
    pendingKeyFingerprint: row.pending_key ? shortFingerprint(row.pending_key) : null,
    pendingRegistration: row.pending_registration ?? null,
    areaCode: row.area_code,
    hallCode: row.hall_code,
    windowNo: row.window_no,
    bridgeVersion: row.bridge_version,
    firstSeen: row.first_seen.toISOString(),
    lastSeen: row.last_seen.toISOString(),
    online: row.online,
    state: row.state ?? null,
    stateAt: iso(row.state_at),
    telemetry: row.telemetry ?? null,
    telemetryAt: iso(row.telemetry_at),
    decidedAt: iso(row.decided_at),
    decidedBy: row.decided_by,
  };
}

/** The columns a decision may change (the rest are written by their own statements). */
export type TerminalFields = Pick<
  TerminalRow,
  'status' | 'public_key' | 'pending_key' | 'pending_registration' | 'area_code' | 'hall_code' | 'window_no' | 'bridge_version' | 'decided_at' | 'decided_by' | 'last_seen' | 'online' | 'state' | 'state_at'
>;

const jsonb = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** The row, locked for this transaction (another instance's writer waits its turn). */
export async function lockTerminal(tx: Queryable, terminalId: string): Promise<TerminalRow | undefined> {
  const { rows } = await tx.query<TerminalRow & Record<string, unknown>>('SELECT * FROM terminals WHERE terminal_id = $1 FOR UPDATE', [terminalId]);
  return rows[0];
}

/** Makes the row if missing (an empty pending one the caller fills), then locks it; `created` tells whether this call made it. */
export async function lockOrCreateTerminal(tx: Queryable, terminalId: string, now: Date): Promise<{ row: TerminalRow; created: boolean }> {
  const inserted = await tx.query(
    `INSERT INTO terminals (terminal_id, status, first_seen, last_seen) VALUES ($1, 'pending', $2, $2)
     ON CONFLICT (terminal_id) DO NOTHING RETURNING terminal_id`,
    [terminalId, now],
  );
  const row = await lockTerminal(tx, terminalId);
  if (!row) throw new Error(`terminal ${terminalId} vanished inside its own transaction`);
  return { row, created: inserted.rows.length > 0 };
}

export async function writeTerminal(tx: Queryable, terminalId: string, f: TerminalFields): Promise<void> {
  await tx.query(
    `UPDATE terminals SET status = $2, public_key = $3, pending_key = $4, pending_registration = $5::jsonb,
       area_code = $6, hall_code = $7, window_no = $8, bridge_version = $9, decided_at = $10, decided_by = $11,
       last_seen = $12, online = $13, state = $14::jsonb, state_at = $15
     WHERE terminal_id = $1`,
    [
      terminalId,
      f.status,
      f.public_key,
      f.pending_key,
      jsonb(f.pending_registration),
      f.area_code,
      f.hall_code,
      f.window_no,
      f.bridge_version,
      f.decided_at,
      f.decided_by,
      f.last_seen,
      f.online,
      jsonb(f.state),
      f.state_at,
    ],
  );
}

/** One line of the append-only operator log. */
export async function recordOperatorAction(tx: Queryable, action: { at: Date; actor: string; action: string; terminalId: string | null; detail: Record<string, unknown> }): Promise<void> {
  await tx.query('INSERT INTO operator_actions (at, actor, action, terminal_id, detail) VALUES ($1, $2, $3, $4, $5::jsonb)', [
    action.at,
    action.actor,
    action.action,
    action.terminalId,
    JSON.stringify(action.detail),
  ]);
}

/** Rows per statement when many are written at once (a roster): bounded parameter arrays. */
const CHUNK = 1000;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** Makes the missing rows (empty, pending) and locks them all, in terminal id order; `created`: the ids this call made. */
export async function lockOrCreateTerminals(tx: Queryable, terminalIds: readonly string[], now: Date): Promise<{ rows: Map<string, TerminalRow>; created: Set<string> }> {
  const sorted = [...new Set(terminalIds)].sort();
  const created = new Set<string>();
  const rows = new Map<string, TerminalRow>();
  for (const ids of chunks(sorted)) {
    const inserted = await tx.query<{ terminal_id: string }>(
      `INSERT INTO terminals (terminal_id, status, first_seen, last_seen)
       SELECT id, 'pending', $2, $2 FROM unnest($1::text[]) AS u(id) ORDER BY id
       ON CONFLICT (terminal_id) DO NOTHING RETURNING terminal_id`,
      [ids, now],
    );
    for (const { terminal_id } of inserted.rows) created.add(terminal_id);
    const locked = await tx.query<TerminalRow & Record<string, unknown>>('SELECT * FROM terminals WHERE terminal_id = ANY($1::text[]) ORDER BY terminal_id FOR UPDATE', [ids]);
    for (const row of locked.rows) rows.set(row.terminal_id, row);
  }
  return { rows, created };
}

/** writeTerminal for many rows, a statement per thousand. */
export async function writeTerminals(tx: Queryable, writes: readonly { terminalId: string; fields: TerminalFields }[]): Promise<void> {
  const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);
  for (const part of chunks(writes)) {
    const column = <T>(pick: (f: TerminalFields) => T): T[] => part.map((w) => pick(w.fields));
    await tx.query(
      `UPDATE terminals t SET status = u.status, public_key = u.public_key, pending_key = u.pending_key, pending_registration = u.pending_registration::jsonb,
         area_code = u.area_code, hall_code = u.hall_code, window_no = u.window_no, bridge_version = u.bridge_version,
         decided_at = u.decided_at, decided_by = u.decided_by, last_seen = u.last_seen, online = u.online, state = u.state::jsonb, state_at = u.state_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                   $10::timestamptz[], $11::text[], $12::timestamptz[], $13::boolean[], $14::text[], $15::timestamptz[])
         AS u(terminal_id, status, public_key, pending_key, pending_registration, area_code, hall_code, window_no, bridge_version,
              decided_at, decided_by, last_seen, online, state, state_at)
       WHERE t.terminal_id = u.terminal_id`,
      [
        part.map((w) => w.terminalId),
        column((f) => f.status),
        column((f) => f.public_key),
        column((f) => f.pending_key),
        column((f) => jsonb(f.pending_registration)),
        column((f) => f.area_code),
        column((f) => f.hall_code),
        column((f) => f.window_no),
        column((f) => f.bridge_version),
        column((f) => iso(f.decided_at)),
        column((f) => f.decided_by),
        column((f) => iso(f.last_seen)),
        column((f) => f.online),
        column((f) => jsonb(f.state)),
        column((f) => iso(f.state_at)),
      ],
    );
  }
}

/** recordOperatorAction for many lines, a statement per thousand. */
export async function recordOperatorActions(tx: Queryable, actions: readonly { at: Date; actor: string; action: string; terminalId: string | null; detail: Record<string, unknown> }[]): Promise<void> {
  for (const part of chunks(actions)) {
    await tx.query(
      `INSERT INTO operator_actions (at, actor, action, terminal_id, detail)
       SELECT at, actor, action, terminal_id, detail::jsonb FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(at, actor, action, terminal_id, detail)`,
      [part.map((a) => a.at.toISOString()), part.map((a) => a.actor), part.map((a) => a.action), part.map((a) => a.terminalId), part.map((a) => JSON.stringify(a.detail))],
    );
  }
}
