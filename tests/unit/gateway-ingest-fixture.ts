import { pino } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { RecordSealer } from '../../bridge/identity/record-sealer.js';
import type { Database, Queryable, Row } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { openTestPglite } from '../support/pglite-template.js';
import { RecordIngest, type RecordIngestDeps } from '../../gateway/ingest/record-ingest.js';
import type { Publisher } from '../../gateway/ports.js';
import { ackSchema, type Ack } from '../../protocol/acks.js';
import { encodeRecord, RECORD_FORMATS } from '../../protocol/record-formats/index.js';
import type { StoredEvent, StoredInvitation } from '../../protocol/records.js';
import { GENESIS } from '../../protocol/seal/seal.js';
import { terminalTopics } from '../../protocol/topics.js';
import { afterAll, beforeAll } from 'vitest';
import { ManualTimers } from '../support/manual-timers.js';
import { strayPress } from '../support/stray-press.js';
import { testIdentity } from '../support/terminal-key.js';

/* What the gateway ingest tests share: one in-memory database per file, terminals that seal their records as a bridge does, a recording publisher. */

export const PREFIX = 'hcp/v1';

export async function openTestDatabase(): Promise<PgliteDatabase> {
  const db = await openTestPglite();
  await migrate(db);
  return db;
}

/** One in-memory database for a test file: opened before its tests, closed after them. */
export function useTestDatabase(): () => PgliteDatabase {
  let db: PgliteDatabase | undefined;
  beforeAll(async () => {
    db = await openTestDatabase();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });
  return () => {
    if (!db) throw new Error('the test database is not open yet');
    return db;
  };
}

export async function emptyTables(db: Database): Promise<void> {
  await db.exec('TRUNCATE records, chain_links, refusals, terminals CASCADE'); // CASCADE: schema v2's tables (later_ratings, deliveries) refer to these
}

/** Registers a terminal row as the registry would. */
export async function putTerminal(db: Queryable, terminalId: string, fields: { status: 'pending' | 'approved' | 'revoked'; publicKey?: string | null; pendingKey?: string | null; decidedAt?: Date }): Promise<void> {
  await db.query(
    `INSERT INTO terminals (terminal_id, status, public_key, pending_key, first_seen, last_seen, decided_at)
     VALUES ($1, $2, $3, $4, now(), now(), $5)
     ON CONFLICT (terminal_id) DO UPDATE SET status = $2, public_key = $3, pending_key = $4, decided_at = $5`,
    [terminalId, fields.status, fields.publicKey ?? null, fields.pendingKey ?? null, fields.decidedAt?.toISOString() ?? null],
  );
}

export interface Message {
  topic: string;
  payload: Buffer;
  id: string;
  seq: number;
}

/** A terminal that seals its records with the bridge's own encoder and sealer. */
export class SealingTerminal {
  identity = testIdentity();
  seq = 0;
  prev = GENESIS;

  constructor(readonly terminalId: string) {}

  get publicKey(): string {
    return this.identity.publicKey;
  }

  /** A sealed stray-press event, next in this terminal's chain (or at `seq`, chained to `prev`). */
  event(options: { seq?: number; prev?: string; mutate?: (body: Record<string, unknown>) => void } = {}): Message {
    return this.seal({ ...strayPress(uuidv7()), terminalId: this.terminalId }, options);
  }

  invitation(overrides: Partial<StoredInvitation> = {}, options: { seq?: number; prev?: string } = {}): Message {
    return this.seal(invitation(this.terminalId, overrides), options);
  }

  seal(record: StoredEvent | StoredInvitation, options: { seq?: number; prev?: string; mutate?: (body: Record<string, unknown>) => void } = {}): Message {
    const seq = options.seq ?? this.seq + 1;
    const sealed = new RecordSealer(RECORD_FORMATS.v2, 'provincial-5-high', this.identity.sign).seal(record, seq, options.prev ?? this.prev);
    if (options.seq === undefined) {
      this.seq = seq;
      this.prev = sealed.hash;
    }
    const body = JSON.parse(sealed.body) as Record<string, unknown>;
    options.mutate?.(body);
    const text = options.mutate ? JSON.stringify(body) : sealed.body;
    return { topic: terminalTopics(this.terminalId, PREFIX).records, payload: Buffer.from(text), id: record.id, seq };
  }

  /** A layout-1 (unsigned) record at `seq`. */
  unsigned(seq: number, record: StoredEvent | StoredInvitation = { ...strayPress(uuidv7()), terminalId: this.terminalId }): Message {
    return { topic: terminalTopics(this.terminalId, PREFIX).records, payload: Buffer.from(encodeRecord('v1', record, seq, 'provincial-5-high')), id: record.id, seq };
  }
}

/** A stored invitation of a terminal, valid by the contract. */
export function invitation(terminalId: string, overrides: Partial<StoredInvitation> = {}): StoredInvitation {
  return {
    id: uuidv7(),
    kind: 'invitation',
    schema: 1,
    terminalId,
    areaCode: '330106',
    hallCode: 'HALL-01',
    windowNo: '12',
    staffId: 'S-1',
    services: [{ itemCode: 'I-1', caseNo: 'C-1' }],
    mode: 'single',
    proxy: false,
    invitedAt: '2026-03-02T01:00:00.000Z',
    closedAt: '2026-03-02T01:02:00.000Z',
    outcome: 'not_rated',
    channel: 'counter',
    flags: [],
    test: false,
    clock: { synced: true, bootId: 'boot-1', monoMs: 1000 },
    ...overrides,
  } as StoredInvitation;
}

/** Records every ack published, parsed. */
export class RecordingPublisher implements Publisher {
  readonly sent: { terminalId: string; ack: Ack; qos: number }[] = [];
  fail = false;

  publish(topic: string, payload: string, options: { qos: 0 | 1 }): Promise<void> {
    if (this.fail) return Promise.reject(new Error('broker gone'));
    const terminalId = topic.split('/')[2] as string;
    this.sent.push({ terminalId, ack: ackSchema.parse(JSON.parse(payload)), qos: options.qos });
    return Promise.resolve();
  }

  /** The status each id was acked with (the last ack naming it). */
  statusOf(id: string): string | undefined {
    return this.sent.filter((s) => s.ack.ids.includes(id)).at(-1)?.ack.status;
  }

  reasonOf(id: string): string | undefined {
    return this.sent.filter((s) => s.ack.ids.includes(id)).at(-1)?.ack.reason;
  }

  ids(): string[] {
    return this.sent.flatMap((s) => s.ack.ids);
  }
}

export class ManualClock {
  constructor(public ms = Date.parse('2026-03-02T02:00:00.000Z')) {}
  now(): Date {
    return new Date(this.ms);
  }
}

/** A database whose next COMMITs fail (the transaction rolls back), as a connection lost at COMMIT would. */
export class FlakyDatabase implements Database {
  readonly kind = 'pglite';
  failCommits = 0;
  /** The SQLSTATE of the failed COMMITs (none: a lost connection). */
  failCommitsCode: string | undefined;
  /** Throw this error (a SQLSTATE) for a transaction whose statements mention one of these ids. */
  refuseData: { ids: Set<string>; code: string } | undefined;

  constructor(private readonly inner: Database) {}

  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<{ rows: R[] }> {
    return this.inner.query<R>(text, params);
  }

  exec(sql: string): Promise<void> {
    return this.inner.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.inner.transaction(async (tx) => {
      const watched: Queryable = {
        query: async <R extends Row = Row>(text: string, params?: readonly unknown[]) => {
          const refuse = this.refuseData;
          if (refuse && text.includes('INSERT INTO records') && JSON.stringify(params).match(/[0-9a-f-]{36}/g)?.some((id) => refuse.ids.has(id))) {
            throw Object.assign(new Error('invalid input value'), { code: refuse.code });
          }
          return tx.query<R>(text, params);
        },
        exec: (sql) => tx.exec(sql),
      };
      const result = await fn(watched);
      if (this.failCommits > 0) {
        this.failCommits -= 1;
        const err = new Error('Connection terminated unexpectedly at COMMIT (postgres://hcp:s3cret@db.example:5432/hcp)');
        throw this.failCommitsCode === undefined ? err : Object.assign(err, { code: this.failCommitsCode });
      }
      return result;
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function makeIngest(db: Database, overrides: Partial<RecordIngestDeps> = {}): { ingest: RecordIngest; publisher: RecordingPublisher; clock: ManualClock; timers: ManualTimers } {
  const publisher = new RecordingPublisher();
  const clock = new ManualClock();
  const timers = new ManualTimers();
  const ingest = new RecordIngest({ db, publisher, prefix: PREFIX, instance: 'gw-test', clock, logger: pino({ level: 'silent' }), maxBatch: 500, maxQueue: 10_000, timers, ...overrides });
  return { ingest, publisher, clock, timers };
}

export async function deliver(ingest: RecordIngest, messages: readonly { topic: string; payload: Buffer }[]): Promise<void> {
  for (const m of messages) ingest.receive(m.topic, m.payload);
  await ingest.idle();
}
