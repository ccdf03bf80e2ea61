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
  // One literal per kind (no spreads): a row is made for every record received.
  const { seal, payload, receivedAt, instance } = received;
  if (record.kind === 'event') {
    return {
      id: record.id,
      terminalId: record.terminalId,
      seq: record.seq,
      kind: record.kind,
      schema: record.schema,
      seal,
      test: record.test,
      areaCode: record.areaCode,
      hallCode: record.hallCode,
      windowNo: record.windowNo,
      staffId: record.staffId,
      outcome: null,
      grade: null,
      channel: null,
      eventType: record.type,
      occurredAt: record.at,
      closedAt: null,
      supersedes: null,
      record,
      recordJson,
      payload,
      receivedAt,
      instance,
    };
  }
  return {
    id: record.id,
    terminalId: record.terminalId,
    seq: record.seq,
    kind: record.kind,
    schema: record.schema,
    seal,
    test: record.test,
    areaCode: record.areaCode,
    hallCode: record.hallCode,
    windowNo: record.windowNo,
    staffId: record.staffId,
    outcome: record.outcome,
    grade: record.rating?.grade ?? null,
    channel: record.channel,
    eventType: null,
    occurredAt: record.invitedAt,
    closedAt: record.closedAt,
    supersedes: record.supersedes ?? null,
    record,
    recordJson,
    payload,
    receivedAt,
    instance,
  };
}

/**
 * Inserts a batch's records in one statement; a record whose id is already stored (by this or
 * any other instance) is left as it is. Returns the ids inserted: the others are duplicates.
 */
export async function insertRecords(tx: Queryable, rows: readonly RecordRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const { rows: inserted } = await tx.query<{ id: string }>(
    `INSERT INTO records (id, terminal_id, seq, kind, schema, seal, test, area_code, hall_code, window_no, staff_id, outcome, grade,
                          channel, event_type, occurred_at, closed_at, supersedes, record, payload, received_at, instance)
     SELECT * FROM json_to_recordset($1::json) AS r(id uuid, terminal_id text, seq int, kind text, schema smallint, seal text, test boolean,
                          area_code text, hall_code text, window_no text, staff_id text, outcome text, grade text, channel text,
                          event_type text, occurred_at timestamptz, closed_at timestamptz, supersedes uuid, record jsonb, payload text,
                          received_at timestamptz, instance text)
     ON CONFLICT (id) DO NOTHING
     RETURNING id`,
    [rowsJson(rows)],
  );
  return new Set(inserted.map((r) => r.id));
}

/**
 * The rows as one JSON array for json_to_recordset: written with the native JSON.stringify, the
 * record's JSON (made once, checked) spliced in as it is. Cheaper for the gateway than 22 text
 * arrays, whose every element the driver escapes in JavaScript.
 */
function rowsJson(rows: readonly RecordRow[]): string {
  const parts: string[] = [];
  for (const r of rows) {
    const columns = JSON.stringify({
      id: r.id,
      terminal_id: r.terminalId,
      seq: r.seq,
      kind: r.kind,
      schema: r.schema,
      seal: r.seal,
      test: r.test,
      area_code: r.areaCode,
      hall_code: r.hallCode,
      window_no: r.windowNo,
      staff_id: r.staffId,
      outcome: r.outcome,
      grade: r.grade,
      channel: r.channel,
      event_type: r.eventType,
      occurred_at: r.occurredAt,
      closed_at: r.closedAt,
      supersedes: r.supersedes,
      payload: r.payload,
      received_at: r.receivedAt.toISOString(),
      instance: r.instance,
    });
    parts.push(`${columns.slice(0, -1)},"record":${r.recordJson}}`);
  }
  return `[${parts.join(',')}]`;
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
