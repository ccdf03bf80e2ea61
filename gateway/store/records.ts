import type { UpstreamRecord } from '../../protocol/records.js';
import type { Queryable } from '../db/database.js';

/** One row of `records` (schema v1), as ingest writes it. */
export interface RecordRow {
  id: string;
  terminalId: string;
  seq: number;
  kind: UpstreamRecord['kind'];
  schema: number;
  seal: 'ok' | 'gap' | 'unsigned';
  test: boolean;
  areaCode: string;
  hallCode: string;
  windowNo: string;
  staffId: string | null;
  outcome: string | null;
  grade: string | null;
  channel: string | null;
  eventType: string | null;
  /** ISO times as the record gives them (time-corrected). */
  occurredAt: string;
  closedAt: string | null;
  supersedes: string | null;
  /** The decoded, time-corrected record. */
  record: UpstreamRecord;
  /** `record` as JSON, made once (checked, then stored). */
  recordJson: string;
  /** The message as received, verbatim (what the seal covers). */
  payload: string;
  receivedAt: Date;
  instance: string;
}

/** The row of an accepted record: its columns read from the decoded record. */
export function recordRow(record: UpstreamRecord, received: { seal: RecordRow['seal']; payload: string; receivedAt: Date; instance: string }, recordJson = JSON.stringify(record)): RecordRow {
  const common = {
    id: record.id,
    terminalId: record.terminalId,
    seq: record.seq,
    kind: record.kind,
    schema: record.schema,
    test: record.test,
    areaCode: record.areaCode,
    hallCode: record.hallCode,
    windowNo: record.windowNo,
    record,
    recordJson,
    ...received,
  };
  if (record.kind === 'event') {
    return { ...common, staffId: record.staffId, outcome: null, grade: null, channel: null, eventType: record.type, occurredAt: record.at, closedAt: null, supersedes: null };
  }
  return {
    ...common,
    staffId: record.staffId,
    outcome: record.outcome,
    grade: record.rating?.grade ?? null,
    channel: record.channel,
    eventType: null,
    occurredAt: record.invitedAt,
    closedAt: record.closedAt,
    supersedes: record.supersedes ?? null,
  };
}

/**
 * Inserts a batch's records in one statement; a record whose id is already stored (by this or
 * any other instance) is left as it is. Returns the ids inserted: the others are duplicates.
 */
export async function insertRecords(tx: Queryable, rows: readonly RecordRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const column = <T>(pick: (row: RecordRow) => T): T[] => rows.map(pick);
  const { rows: inserted } = await tx.query<{ id: string }>(
    `INSERT INTO records (id, terminal_id, seq, kind, schema, seal, test, area_code, hall_code, window_no, staff_id, outcome, grade,
                          channel, event_type, occurred_at, closed_at, supersedes, record, payload, received_at, instance)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::smallint[], $6::text[], $7::boolean[], $8::text[], $9::text[],
                          $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::timestamptz[], $17::timestamptz[],
                          $18::uuid[], $19::jsonb[], $20::text[], $21::timestamptz[], $22::text[])
     ON CONFLICT (id) DO NOTHING
     RETURNING id`,
    [
      column((r) => r.id),
      column((r) => r.terminalId),
      column((r) => r.seq),
      column((r) => r.kind),
      column((r) => r.schema),
      column((r) => r.seal),
      column((r) => r.test),
      column((r) => r.areaCode),
      column((r) => r.hallCode),
      column((r) => r.windowNo),
      column((r) => r.staffId),
      column((r) => r.outcome),
      column((r) => r.grade),
      column((r) => r.channel),
      column((r) => r.eventType),
      column((r) => r.occurredAt),
      column((r) => r.closedAt),
      column((r) => r.supersedes),
      column((r) => r.recordJson),
      column((r) => r.payload),
      column((r) => r.receivedAt.toISOString()),
      column((r) => r.instance),
    ],
  );
  return new Set(inserted.map((r) => r.id));
}

/** What a batch needs to know of records already stored: are they there, and how they stand in supersedes. */
export interface StoredRelation {
  id: string;
  supersedes: string | null;
  supersededBy: string | null;
  /** Only for records that supersede one, or are the target of a batch record's `supersedes`. */
  record: UpstreamRecord | null;
}

/**
 * The stored records among `ids` (the batch's own and those its records supersede), and the
 * stored records that supersede any of them, in one query.
 */
export async function loadRelations(tx: Queryable, ids: readonly string[], targets: readonly string[]): Promise<StoredRelation[]> {
  if (ids.length === 0) return [];
  const { rows } = await tx.query<{ id: string; supersedes: string | null; superseded_by: string | null; record: UpstreamRecord | null }>(
    `SELECT id, supersedes, superseded_by, CASE WHEN supersedes IS NOT NULL OR id = ANY($2::uuid[]) THEN record END AS record
       FROM records
      WHERE id = ANY($1::uuid[]) OR supersedes = ANY($1::uuid[])`,
    [[...new Set(ids)], [...new Set(targets)]],
  );
  return rows.map((r) => ({ id: r.id, supersedes: r.supersedes, supersededBy: r.superseded_by, record: r.record }));
}

/** Sets `superseded_by` of records another has taken the place of, in one statement. */
export async function markSuperseded(tx: Queryable, replaced: readonly { id: string; by: string }[]): Promise<void> {
  if (replaced.length === 0) return;
  await tx.query(`UPDATE records r SET superseded_by = u.by FROM unnest($1::uuid[], $2::uuid[]) AS u(id, by) WHERE r.id = u.id`, [replaced.map((r) => r.id), replaced.map((r) => r.by)]);
}
