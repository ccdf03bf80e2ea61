import { randomUUID } from 'node:crypto';
import type { Scope } from '../../gateway/accounts/scope.js';
import type { Database } from '../../gateway/db/database.js';
import { storeLaterRating } from '../../gateway/rate-later/later-ratings.js';
import { insertRecords, recordRow } from '../../gateway/store/records.js';
import type { Grade } from '../../protocol/grades.js';
import type { InvitationRecord } from '../../protocol/records.js';
import { ratedRecord } from '../unit/province-fixture.js';

/** The alerts suites' database helpers (the database per test: tests/support/db-engines.ts): terminals, and ratings stored the way ingest and the rate-later page store them. */

export const PROVINCE: Scope = { role: 'province', areaPrefix: '37', hallCode: null };
export const COUNTY: Scope = { role: 'county', areaPrefix: '370102', hallCode: null };
export const OTHER_COUNTY: Scope = { role: 'county', areaPrefix: '370103', hallCode: null };
export const HALL: Scope = { role: 'hall', areaPrefix: '370102', hallCode: 'hall-lixia' };

export interface TerminalFacts {
  id: string;
  areaCode?: string;
  hallCode?: string;
  windowNo?: string;
  online?: boolean | null;
  lastSeen?: Date;
  stateAt?: Date | null;
  telemetry?: unknown;
  telemetryAt?: Date | null;
  status?: 'approved' | 'pending' | 'revoked';
}

export async function addTerminal(db: Database, t: TerminalFacts): Promise<void> {
  const seen = t.lastSeen ?? new Date('2026-11-30T02:00:00Z');
  await db.query(
    `INSERT INTO terminals (terminal_id, status, area_code, hall_code, window_no, first_seen, last_seen, online, state_at, telemetry, telemetry_at)
     VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9::jsonb, $10)
     ON CONFLICT (terminal_id) DO UPDATE SET status = EXCLUDED.status, area_code = EXCLUDED.area_code, hall_code = EXCLUDED.hall_code, window_no = EXCLUDED.window_no,
       last_seen = EXCLUDED.last_seen, online = EXCLUDED.online, state_at = EXCLUDED.state_at, telemetry = EXCLUDED.telemetry, telemetry_at = EXCLUDED.telemetry_at`,
    [
      t.id,
      t.status ?? 'approved',
      t.areaCode ?? '370102',
      t.hallCode ?? 'hall-lixia',
      t.windowNo ?? '7',
      seen,
      t.online === undefined ? true : t.online,
      t.stateAt === undefined ? seen : t.stateAt,
      t.telemetry === undefined ? null : JSON.stringify(t.telemetry),
      t.telemetryAt ?? null,
    ],
  );
}

let seq = 100;

/** A counter rating (or any invitation) stored as ingest stores it; the terminal is added when missing. */
export async function storeRating(db: Database, grade: Grade | null, overrides: Partial<InvitationRecord> = {}, receivedAt = new Date('2026-11-30T02:15:08Z')): Promise<InvitationRecord> {
  const base = ratedRecord({ id: randomUUID(), seq: (seq += 1), ...overrides });
  const record: InvitationRecord =
    grade === null ? { ...base, outcome: 'not_rated', rating: undefined } : { ...base, rating: { ...base.rating!, grade, reasons: grade === 'dissatisfied' || grade === 'very_dissatisfied' ? base.rating!.reasons : [] } };
  await addTerminalOnce(db, record);
  await db.transaction(async (tx) => {
    await insertRecords(tx, [recordRow(record, { seal: 'ok', payload: JSON.stringify(record), receivedAt, instance: 'gw-test' })]);
  });
  return record;
}

async function addTerminalOnce(db: Database, record: InvitationRecord): Promise<void> {
  const { rows } = await db.query('SELECT 1 AS one FROM terminals WHERE terminal_id = $1', [record.terminalId]);
  if (rows.length === 0) await addTerminal(db, { id: record.terminalId, areaCode: record.areaCode, hallCode: record.hallCode, windowNo: record.windowNo });
}

/** A rating made later on the receipt page (or the window's sign) for a case of `terminalId`. */
export async function storeLater(db: Database, grade: Grade, options: { terminalId?: string; invitationId?: string; caseNo?: string; via?: 'receipt' | 'window_sign'; ratedAt?: Date } = {}): Promise<string> {
  const stored = await storeLaterRating(
    db,
    {
      terminalId: options.terminalId ?? 'T-LX-07',
      invitationId: options.invitationId ?? randomUUID(),
      caseNos: [options.caseNo ?? `370102-2026-${randomUUID().slice(0, 6)}`],
      assessNumber: 1,
      grade,
      reasons: grade === 'dissatisfied' || grade === 'very_dissatisfied' ? ['R01'] : [],
      reasonCatalog: '2026.11',
      receiptIssuedAt: new Date('2026-11-30T02:15:00Z'),
      ratedAt: options.ratedAt ?? new Date('2026-11-30T03:00:00Z'),
      instance: 'gw-test',
      via: options.via ?? 'receipt',
    },
    randomUUID,
  );
  if (!stored.stored) throw new Error('the later rating was not stored');
  return stored.id;
}

export async function alertRows(db: Database): Promise<{ id: string; kind: string; subject: string; cleared_at: Date | null; notify_count: number; notify_due_at: Date | null; detail: Record<string, unknown> }[]> {
  const { rows } = await db.query<{ id: string; kind: string; subject: string; cleared_at: Date | null; notify_count: number; notify_due_at: Date | null; detail: Record<string, unknown> }>(
    'SELECT id::text AS id, kind, subject, cleared_at, notify_count, notify_due_at, detail FROM alerts ORDER BY id',
  );
  return rows;
}

/** A terminal approved on its first key, as in hcp start: the registry holds no place for it. */
export async function forgetPlace(db: Database, terminalId: string): Promise<void> {
  await db.query('UPDATE terminals SET area_code = NULL, hall_code = NULL, window_no = NULL WHERE terminal_id = $1', [terminalId]);
}

/** A telemetry report as a bridge sends it (the parts the fault scan reads), made a minute before `at`. */
export function telemetryBody(at: Date, parts: { pending?: number; oldestMs?: number | null; synced?: boolean; printer?: string | null; alarms?: string[] } = {}): Record<string, unknown> {
  return {
    at: new Date(at.getTime() - 60_000).toISOString(),
    alarms: parts.alarms ?? [],
    backlog: { pending: parts.pending ?? 0, quarantined: 0, oldestPendingAgeMs: parts.oldestMs ?? null },
    clock: { synced: parts.synced ?? true, trustedFrom: 'ntp' },
    printer: parts.printer === null ? null : { condition: parts.printer ?? 'ready', pending: 0, printed: 3 },
  };
}
