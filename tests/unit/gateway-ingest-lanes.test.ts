import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Database } from '../../gateway/db/database.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { MessageQueue } from '../../gateway/ingest/message-queue.js';
import { chainGaps } from '../../gateway/store/chain-store.js';
import { deliver, emptyTables, FlakyDatabase, makeIngest, putTerminal, SealingTerminal, useTestDatabase } from './gateway-ingest-fixture.js';

/*
 * Two batches settled at once (ingest.concurrency 2, the default on PostgreSQL), here on PGlite
 * (whose transactions run one after another, but the lanes' taking, failing and putting back
 * interleave as they would): every record stored once, acked once, whatever fails.
 */

const SEED = 20_261_130;
const database = useTestDatabase();
let db: PgliteDatabase;
beforeEach(async () => {
  db = database();
  await emptyTables(db);
});

async function approved(terminalId: string): Promise<SealingTerminal> {
  const terminal = new SealingTerminal(terminalId);
  await putTerminal(db, terminalId, { status: 'approved', publicKey: terminal.publicKey });
  return terminal;
}

/**
 * Holds the first two transactions of `db` until both are open (PGlite's run within one turn of
 * the event loop, so that one lane would finish before the other starts), and counts how many
 * are open at once.
 */
function overlapping(db: { transaction: Database['transaction'] }): { most: () => number } {
  const inner = db.transaction.bind(db);
  let open = 0;
  let most = 0;
  let started = 0;
  let release!: () => void;
  const bothOpen = new Promise<void>((resolve) => (release = resolve));
  db.transaction = async (fn) => {
    most = Math.max(most, ++open);
    try {
      if (++started <= 2) {
        if (started === 2) release();
        await bothOpen;
      }
      return await inner(fn);
    } finally {
      open -= 1;
    }
  };
  return { most: () => most };
}

async function storedSeals(): Promise<Map<string, string>> {
  const { rows } = await db.query<{ id: string; seal: string }>('SELECT id, seal FROM records');
  return new Map(rows.map((r) => [r.id, r.seal]));
}

describe('gateway ingest: two lanes', () => {
  it('stores every record of several terminals once, chained without gaps, in more than one batch at a time', async () => {
    const terminals = await Promise.all(['L-1', 'L-2', 'L-3'].map(approved));
    const flaky = new FlakyDatabase(db);
    const lanes = overlapping(flaky);
    const { ingest, publisher } = makeIngest(flaky, { maxBatch: 7, concurrency: 2 });
    const messages = Array.from({ length: 20 }, () => terminals.map((t) => t.event())).flat();
    await deliver(ingest, messages);
    expect(lanes.most()).toBe(2);
    const seals = await storedSeals();
    expect(seals.size).toBe(messages.length);
    expect([...seals.values()].every((s) => s === 'ok')).toBe(true);
    for (const t of terminals) expect(await chainGaps(db, t.terminalId)).toEqual([]);
    expect(publisher.ids().sort()).toEqual(messages.map((m) => m.id).sort());
    expect(ingest.stats()).toMatchObject({ accepted: messages.length, duplicates: 0, queued: 0 });
  });

  it('a failed commit puts both lanes’ batches back; after the backoff every record is stored and acked once', async () => {
    const t = await approved('L-1');
    const flaky = new FlakyDatabase(db);
    flaky.failCommits = 2;
    const lanes = overlapping(flaky);
    const { ingest, publisher, timers } = makeIngest(flaky, { maxBatch: 4, concurrency: 2, retryMs: { first: 100, max: 100 } });
    const messages = Array.from({ length: 10 }, () => t.event());
    for (const m of messages) ingest.receive(m.topic, m.payload);
    await vi.waitFor(() => expect(ingest.stats().dbFailures).toBe(2));
    expect(lanes.most()).toBe(2);
    expect(publisher.sent).toEqual([]);
    timers.advance(100);
    await ingest.idle();
    expect(publisher.ids().sort()).toEqual(messages.map((m) => m.id).sort());
    const seals = await storedSeals();
    expect(messages.map((m) => seals.get(m.id))).toEqual(messages.map(() => 'ok'));
    expect(ingest.stats()).toMatchObject({ accepted: 10, failed: 0, queued: 0, dbUp: true });
  });

  it('a message the database refuses is isolated with two lanes too; every other one is stored', async () => {
    const t = await approved('L-1');
    const flaky = new FlakyDatabase(db);
    const messages = Array.from({ length: 30 }, () => t.event());
    flaky.refuseData = { ids: new Set([messages[17]!.id]), code: '22P05' };
    overlapping(flaky);
    const { ingest, publisher } = makeIngest(flaky, { maxBatch: 8, concurrency: 2 });
    await deliver(ingest, messages);
    expect(publisher.statusOf(messages[17]!.id)).toBeUndefined();
    expect(ingest.stats()).toMatchObject({ accepted: 29, failed: 1, dbFailures: 0, queued: 0 });
  });

  it('a refused message is found by halving, whichever lane commits meanwhile: at most 1 + log2(maxBatch) refused transactions, full batches after', async () => {
    const t = await approved('L-1');
    const flaky = new FlakyDatabase(db);
    const messages = Array.from({ length: 40 }, () => t.event());
    flaky.refuseData = { ids: new Set([messages[6]!.id]), code: '22P05' };
    overlapping(flaky);
    const refused = countRefusals(flaky);
    const { ingest, publisher } = makeIngest(flaky, { maxBatch: 8, concurrency: 2 });
    await deliver(ingest, messages);
    expect(publisher.statusOf(messages[6]!.id)).toBeUndefined();
    expect(ingest.stats()).toMatchObject({ accepted: 39, failed: 1, queued: 0 });
    // 8 → 4 → 2 → 1; the other lane's commit and each half that passes leave the split as it is.
    expect(refused()).toBe(4);
  });

  it('a refusal that does not come again ends the split once the refused batch has been through: full batches and both lanes again', async () => {
    const t = await approved('L-1');
    const flaky = new FlakyDatabase(db);
    const messages = Array.from({ length: 40 }, () => t.event());
    flaky.refuseData = { ids: new Set([messages[2]!.id]), code: '23514' };
    const sizes = batchSizes(flaky, () => (flaky.refuseData = undefined));
    const { ingest } = makeIngest(flaky, { maxBatch: 8, concurrency: 1 });
    await deliver(ingest, messages);
    expect(ingest.stats()).toMatchObject({ accepted: 40, failed: 0, queued: 0 });
    // Refused once (8), then halves of 4 until the refused batch's last message is through, then 8 again.
    expect(sizes).toEqual([8, 4, 4, 8, 8, 8, 8]);
  });
});

/** Counts the transactions the database refused for their data. */
function countRefusals(db: { transaction: Database['transaction'] }): () => number {
  const inner = db.transaction.bind(db);
  let refused = 0;
  db.transaction = async (fn) => {
    try {
      return await inner(fn);
    } catch (err) {
      if (typeof (err as { code?: unknown }).code === 'string') refused += 1;
      throw err;
    }
  };
  return () => refused;
}

/** The records each transaction tried to insert, in order; `afterFirst` runs once the first has failed. */
function batchSizes(db: FlakyDatabase, afterFirst: () => void): number[] {
  const transaction = db.transaction.bind(db);
  const sizes: number[] = [];
  db.transaction = async (fn) =>
    transaction(async (tx) =>
      fn({
        query: (text, params) => {
          if (text.includes('INSERT INTO records')) sizes.push((JSON.parse(String(params?.[0])) as unknown[]).length);
          return tx.query(text, params);
        },
        exec: (sql) => tx.exec(sql),
      }),
    ).catch((err: unknown) => {
      if (sizes.length === 1) afterFirst();
      throw err;
    });
  return sizes;
}

describe('MessageQueue', () => {
  it('batches taken in any order and put back in any order leave the queue in arrival order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.array(fc.tuple(fc.integer({ min: 1, max: 10 }), fc.boolean()), { maxLength: 30 }), (size, steps) => {
        const queue = new MessageQueue<number>((n) => n);
        for (let n = 0; n < size; n++) queue.push(n);
        const taken: number[][] = [];
        for (const [n, putBackNewest] of steps) {
          if (queue.size > 0) taken.push(queue.take(n));
          // Put back one of those taken: the newest, or the oldest batch.
          if (putBackNewest && taken.length > 0) queue.putBack(taken.pop()!);
          else if (taken.length > 1) queue.putBack(taken.shift()!);
        }
        const left = queue.take(queue.size);
        expect(left).toEqual([...left].sort((a, b) => a - b));
        expect([...left, ...taken.flat()].sort((a, b) => a - b)).toEqual(Array.from({ length: size }, (_, i) => i));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('firstAfter finds what a scan of the oldest `within` finds, after any takes and put-backs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.array(fc.integer({ min: 1, max: 10 }), { maxLength: 8 }), fc.integer({ min: -2, max: 70 }), fc.integer({ min: 0, max: 70 }), (size, takes, after, within) => {
        const queue = new MessageQueue<number>((n) => n);
        for (let n = 0; n < size; n++) queue.push(n);
        const taken = takes.map((n) => queue.take(n));
        if (taken.length > 1) queue.putBack(taken[0]!);
        const head = queue.take(queue.size);
        queue.putBack(head);
        expect(queue.firstAfter(after, within)).toBe(head.slice(0, within).find((n) => n > after));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
