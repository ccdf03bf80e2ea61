import { pino } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import type { Database, Queryable } from '../../gateway/db/database.js';
import { DeliveryWorker, type DeliverySettings, type DeliveryWorkerDeps } from '../../gateway/delivery/worker.js';
import type { DeliveryPayloads } from '../../gateway/delivery/payloads.js';
import type { Logger } from '../../gateway/ports.js';
import type { ProvinceClient, PushAnswer, PushPhase } from '../../gateway/province/client.js';
import type { EvaluationBody, ServiceBody } from '../../gateway/province/payloads.js';
import { insertRecords, markSuperseded, recordRow } from '../../gateway/store/records.js';
import { gradeCode, type Grade } from '../../protocol/grades.js';
import type { InvitationRecord, StoredInvitation } from '../../protocol/records.js';
import { invitation } from './gateway-ingest-fixture.js';

/* What the delivery tests share: records stored as ingest stores them (the triggers fill the queue), later ratings, a scripted province. */

export const TERMINAL = 'T-DELIVERY';

export async function putApprovedTerminal(db: Queryable, terminalId = TERMINAL): Promise<void> {
  await db.query(
    `INSERT INTO terminals (terminal_id, status, area_code, hall_code, window_no, first_seen, last_seen) VALUES ($1, 'approved', '330106', 'HALL-01', '12', now(), now())
     ON CONFLICT (terminal_id) DO NOTHING`,
    [terminalId],
  );
}

let seq = 0;

/** An invitation record as the gateway stores it: a rating with its gradeCode, a seq. */
export function invitationRecord(overrides: Partial<StoredInvitation> & { grade?: Grade; reasons?: string[] } = {}, terminalId = TERMINAL): InvitationRecord {
  const { grade, reasons, ...rest } = overrides;
  const base = invitation(terminalId, rest);
  const rated = grade !== undefined ? { outcome: 'rated' as const, rating: { grade, reasons: reasons ?? [], reasonCatalogVersion: null, pressedAt: '2026-03-02T01:00:05.000Z', latencyMs: 5000 } } : {};
  const record = { ...base, ...rated, schema: 2, seq: ++seq } as InvitationRecord & { rating?: { gradeCode?: number } };
  if (record.rating) record.rating.gradeCode = gradeCode(record.rating.grade, 'provincial-5-high');
  return record as InvitationRecord;
}

/** Stores records in one transaction as ingest does (insertRecords, then markSuperseded for those that supersede). */
export async function storeRecords(db: Database, records: readonly InvitationRecord[], receivedAt: Date, instance = 'gw-test'): Promise<void> {
  await db.transaction(async (tx) => {
    await insertRecords(
      tx,
      records.map((r) => recordRow(r, { seal: 'ok', payload: JSON.stringify(r), receivedAt, instance })),
    );
    await markSuperseded(
      tx,
      records.filter((r) => r.supersedes !== undefined).map((r) => ({ id: r.supersedes as string, by: r.id })),
    );
  });
}

export interface LaterInput {
  invitationId: string;
  caseNo: string;
  assessNumber?: 1 | 2;
  grade?: Grade;
  reasons?: string[];
  ratedAt: Date;
  terminalId?: string;
}

/** One later_ratings row, as the rate-later page stores it. Resolves with its id. */
export async function storeLater(db: Queryable, input: LaterInput): Promise<string> {
  const id = uuidv7();
  await db.query(
    `INSERT INTO later_ratings (id, terminal_id, invitation_id, case_no, assess_number, grade, reasons, reason_catalog, receipt_issued_at, rated_at, instance)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, NULL, $8, $8, 'gw-test')`,
    [id, input.terminalId ?? TERMINAL, input.invitationId, input.caseNo, input.assessNumber ?? 1, input.grade ?? 'satisfied', JSON.stringify(input.reasons ?? []), input.ratedAt],
  );
  return id;
}

/** Bodies that say what they are for: enough for a fake province, no profile needed. */
export const testPayloads: DeliveryPayloads = {
  service: (record, caseNo) => {
    const service = record.services.find((s) => s.caseNo === caseNo);
    if (!service) throw new Error(`case ${caseNo} is not in this record`);
    return { projectNo: caseNo, taskCode: service.itemCode, serviceNumber: 1, serviceTime: record.invitedAt, areaCode: record.areaCode, deptCode: 'D', dataSource: '001' } satisfies ServiceBody;
  },
  evaluation: (source) => {
    if ('later' in source) {
      const l = source.later;
      return { projectNo: l.caseNo, serviceNumber: 1, satisfaction: gradeCode(l.grade, 'provincial-5-high'), evalDetail: l.reasons.join(','), writingEvaluation: '', assessTime: String(l.ratedAt), assessNumber: l.assessNumber, pf: 3, dataSource: '001' };
    }
    const { record, caseNo } = source;
    if (record.outcome !== 'rated' || !record.rating) return null;
    return { projectNo: caseNo, serviceNumber: 1, satisfaction: gradeCode(record.rating.grade, 'provincial-5-high'), evalDetail: record.rating.reasons.join(','), writingEvaluation: '', assessTime: record.rating.pressedAt, assessNumber: 1, pf: 4, dataSource: '001' } satisfies EvaluationBody;
  },
};

export interface Push {
  phase: PushPhase;
  body: ServiceBody | EvaluationBody;
  /** The instance whose client made the call. */
  by: string;
}

/**
 * A province that answers from a script (then 'delivered'), remembering every call in order. An
 * answer may be a function of the call; a thrown error is the client breaking its contract.
 */
export class ScriptedProvince {
  readonly pushes: Push[] = [];
  readonly script: (PushAnswer | ((push: Push) => PushAnswer | Promise<PushAnswer>) | Error)[] = [];
  /** Set to hold every answer until released (a push in flight). */
  gate: Promise<void> | undefined;

  client(by = 'gw-1'): ProvinceClient {
    return {
      push: async (phase, body) => {
        const push = { phase, body, by };
        this.pushes.push(push);
        await this.gate;
        const next = this.script.shift();
        if (next instanceof Error) throw next;
        if (typeof next === 'function') return next(push);
        return next ?? { kind: 'delivered', answer: { code: '0', success: 'true', message: '成功' } as never };
      },
    };
  }

  /** "phase projectNo assessNumber" of each push, in order. */
  calls(): string[] {
    return this.pushes.map((p) => `${p.phase} ${p.body.projectNo}${'assessNumber' in p.body ? ` ${p.body.assessNumber} pf${p.body.pf}` : ''}`);
  }
}

export const FAST: DeliverySettings = { perSecond: 1000, timeoutMs: 1000, maxAttemptsBeforeAlert: 3, backoff: { baseMs: 10, maxMs: 40 } };

export const silentLogger: Logger = pino({ level: 'silent' });

/** A logger that keeps each line's level, message and fields. */
export function recordingLogger(): { logger: Logger; lines: { level: string; msg: string; fields: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (fields: unknown, msg?: string): void => {
      lines.push({ level, msg: msg ?? '', fields: (typeof fields === 'object' && fields !== null ? fields : {}) as Record<string, unknown> });
    };
  const logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), trace: at('trace'), fatal: at('fatal') } as unknown as Logger;
  return { logger, lines };
}

export function worker(deps: Partial<DeliveryWorkerDeps> & Pick<DeliveryWorkerDeps, 'db' | 'client'>): DeliveryWorker {
  return new DeliveryWorker({ payloads: testPayloads, instance: 'gw-1', clock: { now: () => new Date() }, logger: silentLogger, settings: FAST, pollMs: 5, random: () => 0.5, ...deps });
}

export type DeliveryRowView = {
  source: string;
  id: string;
  case_no: string;
  state: string;
  attempts: number;
  code: string | null;
  last_error: string | null;
  rejected_phase: string | null;
  claimed_at: Date | null;
  due_at: Date;
};

export async function rows(db: Queryable): Promise<DeliveryRowView[]> {
  return (await db.query<DeliveryRowView>('SELECT source, id, case_no, state, attempts, code, last_error, rejected_phase, claimed_at, due_at FROM deliveries ORDER BY position')).rows;
}

