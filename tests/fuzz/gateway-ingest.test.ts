import fc from 'fast-check';
import { v7 as uuidv7 } from 'uuid';
import { beforeEach, describe, expect, it } from 'vitest';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { ackMessages } from '../../gateway/ingest/ack-batches.js';
import { isStorableText, readRecordMessage } from '../../gateway/ingest/incoming.js';
import { decodeRecord } from '../../protocol/record-formats/index.js';
import { chainGaps, insertChainLinks, MAX_STORED_SEQ, neighbourhoods } from '../../gateway/store/chain-store.js';
import { HeldChain } from '../../protocol/seal/chain.js';
import { GENESIS } from '../../protocol/seal/seal.js';
import { terminalTopics } from '../../protocol/topics.js';
import { strayPress } from '../support/stray-press.js';
import { deliver, emptyTables, makeIngest, PREFIX, putTerminal, SealingTerminal, useTestDatabase, type Message } from '../unit/gateway-ingest-fixture.js';

/*
 * The gateway's ingest against hostile traffic on its records topics: random bytes, JSON of every
 * wrong shape, huge strings, prototype-pollution keys, genuine records with a field changed after
 * sealing, under any topic. It never throws, stores nothing but the genuine records of an approved
 * terminal, and counts every message exactly once.
 */
const SEED = 20_261_130;

const database = useTestDatabase();
let db: PgliteDatabase;
beforeEach(() => {
  db = database();
});

const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'id', 'schema', 'seq', 'sig', 'prev', 'terminalId', 'kind', 'timeCorrection', 'supersedes', 'at', 'clock', 'detail');
const hostileString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('', '\u0000', 'a\u0000b', '\ud800', '\udc00x', '0000-01-01T00:00:00Z', '9'.repeat(40), '../../etc', 'T-1', 'x'.repeat(300)),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  hostileString,
  fc.constantFrom(2 ** 31, 2 ** 53 + 2, -1, 0, 1.5, 1e308, null, true, [], {}),
  fc.dictionary(hostileKey, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }),
);
const topicOf = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('T-1', 'T-X', 'T-P', 'T-R').map((t) => terminalTopics(t, PREFIX).records) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: hostileString.map((t) => `${PREFIX}/${t}/records`) },
  { weight: 1, arbitrary: fc.constantFrom(`${PREFIX}/+/records`, `${PREFIX}//records`, `${PREFIX}/T-1/records/x`, `${PREFIX}/T-1/time`, `other/T-1/records`) },
);

/** How to make one message (sealing needs the run's terminal, so the recipe is materialized inside the property). */
type Recipe =
  | { kind: 'genuine'; invitation: boolean }
  | { kind: 'mutated'; key: string; value: unknown }
  | { kind: 'resealed'; key: string; value: unknown }
  | { kind: 'elsewhere'; topic: string }
  | { kind: 'resend' }
  | { kind: 'raw'; topic: string; payload: Buffer };

const recipe: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('genuine' as const), invitation: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('mutated' as const), key: hostileKey, value: hostileValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('resealed' as const), key: hostileKey, value: fc.oneof(hostileValue, fc.dictionary(fc.string({ maxLength: 3 }), hostileString, { maxKeys: 2 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('elsewhere' as const), topic: topicOf }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resend' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      topic: topicOf,
      payload: fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        hostileValue.map((v) => Buffer.from(JSON.stringify(v) ?? 'undefined')),
        fc.dictionary(hostileKey, hostileValue, { maxKeys: 6 }).map((o) => Buffer.from(JSON.stringify({ id: uuidv7(), ...o }))),
        hostileString.map((id) => Buffer.from(`{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"id":${JSON.stringify(id)}}`)),
        fc.constantFrom(Buffer.from(`{"id":"${'x'.repeat(300_000)}"}`), Buffer.from(`{"id":"big","schema":2,"pad":"${'y'.repeat(400_000)}"}`)),
      ),
    }),
  },
);

describe('fuzz: gateway ingest', () => {
  it('never throws, stores only genuine records of an approved terminal, counts every message once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(recipe, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 8 }), async (recipes, maxBatch) => {
        await emptyTables(db);
        const t = new SealingTerminal('T-1');
        await putTerminal(db, 'T-1', { status: 'approved', publicKey: t.publicKey });
        await putTerminal(db, 'T-P', { status: 'pending', pendingKey: t.publicKey });
        await putTerminal(db, 'T-R', { status: 'revoked', publicKey: t.publicKey });
        const genuine = new Set<string>();
        const resealed = new Set<string>();
        const messages: { topic: string; payload: Buffer }[] = [];
        let last: Message | undefined;
        for (const r of recipes) {
          if (r.kind === 'genuine') {
            last = r.invitation ? t.invitation() : t.event();
            genuine.add(last.id);
            messages.push(last);
          } else if (r.kind === 'mutated') {
            // A field changed after sealing (an own "__proto__" too, as JSON.parse would make it).
            const original = t.event();
            const body = JSON.parse(original.payload.toString()) as Record<string, unknown>;
            Object.defineProperty(body, r.key, { value: r.value, enumerable: true, writable: true, configurable: true });
            const text = JSON.stringify(body);
            if (text === original.payload.toString()) genuine.add(original.id);
            messages.push({ topic: original.topic, payload: Buffer.from(text) });
          } else if (r.kind === 'resealed') {
            // Signed by the terminal's own key with a hostile field: genuine, stored only if valid and storable.
            const record = { ...strayPress(uuidv7()), terminalId: 'T-1' } as Record<string, unknown>;
            Object.defineProperty(record, r.key, { value: r.value, enumerable: true, writable: true, configurable: true });
            let sealed: Message | undefined;
            try {
              sealed = t.seal(record as never);
            } catch {
              sealed = undefined; // not JSON data: the bridge could not have sealed it either
            }
            if (sealed) {
              const id = (JSON.parse(sealed.payload.toString()) as { id?: unknown }).id;
              if (typeof id === 'string') resealed.add(id);
              messages.push(sealed);
            }
          } else if (r.kind === 'elsewhere') {
            const record = t.event();
            if (r.topic === record.topic) genuine.add(record.id);
            messages.push({ topic: r.topic, payload: record.payload });
          } else if (r.kind === 'resend') {
            if (last) messages.push(last);
          } else {
            messages.push({ topic: r.topic, payload: r.payload });
          }
        }
        const { ingest } = makeIngest(db, { maxBatch });
        await deliver(ingest, messages);

        const { rows } = await db.query<{ id: string; terminal_id: string }>('SELECT id, terminal_id FROM records');
        for (const row of rows) {
          expect(genuine.has(row.id) || resealed.has(row.id)).toBe(true);
          expect(row.terminal_id).toBe('T-1');
        }
        const s = ingest.stats();
        expect(s.received).toBe(messages.length);
        expect(s.accepted + s.duplicates + s.rejected + s.invalid + s.held + s.unreadable + s.failed + s.shed + s.queued).toBe(s.received);
        expect({ failed: s.failed, queued: s.queued, shed: s.shed, dbFailures: s.dbFailures }).toEqual({ failed: 0, queued: 0, shed: 0, dbFailures: 0 });
        expect(s.accepted).toBe(rows.length);
        // …and every genuine one is stored, whatever came between (a gap at most).
        const stored = new Set(rows.map((r) => r.id));
        expect([...genuine].filter((id) => !stored.has(id))).toEqual([]);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { seed: SEED, numRuns: 150 },
    );
  }, 120_000);

  it('chainGaps (SQL, under the approved key) lists the same gaps as HeldChain.gaps for any set of links', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.record({ seq: fc.integer({ min: 1, max: 60 }), fresh: fc.boolean() }), { selector: (l) => l.seq, maxLength: 25 }), async (links) => {
        await emptyTables(db);
        await putTerminal(db, 'T-1', { status: 'approved', publicKey: 'key-a' });
        const held = new HeldChain();
        const rows = links.map((l) => ({ seq: l.seq, hash: `h${l.seq}`, prev: l.fresh ? GENESIS : `h${l.seq - 1}` }));
        for (const link of rows) held.add(link);
        const other = rows.map((link) => ({ terminalId: 'T-1', publicKey: 'key-old', recordId: uuidv7(), link: { ...link, seq: link.seq + 100 } }));
        await insertChainLinks(db, [...rows.map((link) => ({ terminalId: 'T-1', publicKey: 'key-a', recordId: uuidv7(), link })), ...other]);
        expect(await chainGaps(db, 'T-1')).toEqual(held.gaps(GENESIS));
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('a chain arriving in any order, split into any batches between two instances, ends stored once and sealed ok throughout; before that, gap marks exactly the records whose predecessor is not stored', async () => {
    const arrival = fc
      .integer({ min: 2, max: 12 })
      .chain((n) => fc.tuple(fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: n, maxLength: n }), fc.array(fc.boolean(), { minLength: n, maxLength: n })));
    await fc.assert(
      fc.asyncProperty(arrival, async ([order, sizes, instanceB]) => {
        await emptyTables(db);
        const t = new SealingTerminal('T-1');
        await putTerminal(db, 'T-1', { status: 'approved', publicKey: t.publicKey });
        const chain = order.map(() => t.event());
        const gateways = [makeIngest(db), makeIngest(db, { instance: 'gw-b' })];
        for (let at = 0, b = 0; at < order.length; b += 1) {
          const batch = order.slice(at, at + (sizes[b] as number)).map((i) => chain[i] as Message);
          at += batch.length;
          await deliver(gateways[instanceB[b] ? 1 : 0]!.ingest, batch);
          const { rows } = await db.query<{ seq: number; seal: string }>('SELECT seq, seal FROM records ORDER BY seq');
          const stored = new Set(rows.map((r) => r.seq));
          // Gap: a predecessor not stored (the first record's predecessor is the genesis: never a gap).
          expect(rows).toEqual(rows.map((r) => ({ seq: r.seq, seal: r.seq > 1 && !stored.has(r.seq - 1) ? 'gap' : 'ok' })));
        }
        expect(await chainGaps(db, 'T-1')).toEqual([]);
        const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM records WHERE seal = 'ok'`);
        expect(rows[0]!.n).toBe(order.length);
      }),
      { seed: SEED, numRuns: 40 },
    );
  }, 120_000);

  it('readRecordMessage never throws; anything not on a records topic is unreadable', () => {
    fc.assert(
      fc.property(topicOf, fc.oneof(fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)), hostileValue.map((v) => Buffer.from(JSON.stringify(v) ?? ''))), (topic, payload) => {
        const read = readRecordMessage(topic, payload, PREFIX);
        if (!/^hcp\/v1\/[A-Za-z0-9_-]{1,64}\/records$/.test(topic)) expect(read.kind).toBe('unreadable');
        if (read.kind === 'readable') expect(read.id).toBe((read.body as { id: string }).id);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('readRecordMessage decodes from its one parse exactly what decodeRecord decodes from the text, for genuine, altered and hostile payloads', () => {
    const t = new SealingTerminal('T-1');
    const body = (m: Message): Record<string, unknown> => JSON.parse(m.payload.toString()) as Record<string, unknown>;
    const payload = fc.oneof(
      fc.boolean().map((invitation) => (invitation ? t.invitation() : t.event()).payload.toString()),
      fc.tuple(hostileKey, hostileValue, fc.boolean()).map(([key, value, invitation]) => {
        const altered = body(invitation ? t.invitation() : t.event());
        Object.defineProperty(altered, key, { value, enumerable: true, writable: true, configurable: true });
        return JSON.stringify(altered);
      }),
      fc.tuple(fc.constantFrom(1, 2, 3, '2', null, undefined), fc.integer({ min: -1e15, max: 1e15 })).map(([schema, offsetMs]) => {
        const unsynced = body(t.event());
        return JSON.stringify({ ...unsynced, schema, clock: { ...(unsynced.clock as object), synced: false }, timeCorrection: { offsetMs, sig: 'AAAA' } });
      }),
      hostileValue.map((v) => JSON.stringify(v) ?? ''),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(payload, (text) => {
        const read = readRecordMessage(terminalTopics('T-1', PREFIX).records, Buffer.from(text), PREFIX);
        let expected: ReturnType<typeof decodeRecord> | 'threw';
        try {
          expected = decodeRecord(Buffer.from(text).toString('utf8'));
        } catch {
          expected = 'threw';
        }
        if (expected === 'threw') expect(read.kind === 'unreadable' || read.decoded.kind === 'invalid').toBe(true);
        else if (expected.kind === 'unreadable') expect(read).toEqual({ kind: 'unreadable', reason: expected.reason });
        else if (read.kind === 'readable') {
          expect(read.decoded).toEqual(expected);
          expect(read.body).toEqual(JSON.parse(text));
        } else expect(expected.id.length > 200 || !isStorableText(expected.id)).toBe(true);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('neighbourhoods: the fewest disjoint, non-touching ranges holding exactly seq-1, seq and seq+1 of each seq, within 1..MAX_STORED_SEQ', () => {
    const seq = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 2, MAX_STORED_SEQ - 1, MAX_STORED_SEQ), fc.integer({ min: 1, max: MAX_STORED_SEQ }));
    fc.assert(
      fc.property(fc.array(seq, { maxLength: 30 }), (seqs) => {
        const ranges = neighbourhoods(seqs);
        const expected = new Set(seqs.flatMap((s) => [s - 1, s, s + 1]).filter((s) => s >= 1 && s <= MAX_STORED_SEQ));
        let count = 0;
        for (const [i, [from, to]] of ranges.entries()) {
          expect(from).toBeLessThanOrEqual(to);
          if (i > 0) expect(from).toBeGreaterThan(ranges[i - 1]![1] + 1);
          for (let s = from; s <= to; s++) expect(expected.has(s)).toBe(true);
          count += to - from + 1;
        }
        expect(count).toBe(expected.size);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('ackMessages: every id once, in order per group, at most the limit per message, one terminal/status/reason per message', () => {
    const item = fc.record({ terminalId: fc.constantFrom('T-1', 'T-2'), id: fc.uuid(), status: fc.constantFrom('accepted', 'duplicate', 'rejected') as fc.Arbitrary<'accepted' | 'duplicate' | 'rejected'>, reason: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }) });
    fc.assert(
      fc.property(fc.uniqueArray(item, { selector: (i) => i.id, maxLength: 300 }), fc.integer({ min: 1, max: 50 }), (items, max) => {
        const messages = ackMessages(items, new Date(0), max);
        expect(messages.flatMap((m) => m.ack.ids).sort()).toEqual(items.map((i) => i.id).sort());
        for (const m of messages) {
          expect(m.ack.ids.length).toBeLessThanOrEqual(max);
          const members = items.filter((i) => m.ack.ids.includes(i.id));
          expect(new Set(members.map((i) => JSON.stringify([i.terminalId, i.status, i.reason ?? null])))).toEqual(new Set([JSON.stringify([m.terminalId, m.ack.status, m.ack.reason ?? null])]));
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
