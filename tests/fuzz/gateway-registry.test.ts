import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { birthSchema, registrationSchema } from '../../protocol/registration.js';
import { migrate } from '../../gateway/db/migrate.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { openTestPglite } from '../support/pglite-template.js';
import type { Publisher } from '../../gateway/ports.js';
import { TerminalRegistry } from '../../gateway/registry/terminal-registry.js';

/**
 * The registry fed hostile `…/state` and `…/telemetry` messages (random bytes, JSON of any shape,
 * births and registrations with fields of the wrong type, NULs and lone surrogates, huge
 * payloads, odd topics), on a real database. Invariants: it never throws, no write fails (nothing
 * unstorable reaches the database), every message is counted exactly once, and a row exists only
 * for a message the protocol's schemas accept with a key on a terminal's own topic.
 */
const SEED = 20261130;
const PREFIX = 'hcp/v1';
const KEY = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const nasty = fc.constantFrom('\u0000', '\ud800', '\udc00x', 'a\u0000b', '😀', '\\u0000', '', ' ', 'x'.repeat(300), '<script>', "'; DROP TABLE terminals; --");
const anyString = fc.oneof(fc.string({ maxLength: 40 }), nasty, fc.string({ unit: 'binary', maxLength: 20 }));
const anyValue = fc.oneof(anyString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 3 }), fc.array(anyString, { maxLength: 3 }));
const iso = fc.oneof(
  fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2026-11-30T07:00:00+08:00', 'yesterday', '2026-02-30T00:00:00Z', ''),
);

/** A birth or registration, each field right, wrong or missing. */
const stateBody = fc.record(
  {
    online: fc.oneof(fc.boolean(), anyValue),
    provisioning: fc.oneof(fc.constant(true), anyValue),
    at: fc.oneof(iso, anyValue),
    publicKey: fc.oneof(fc.constant(KEY), anyString, fc.constant(KEY.slice(0, 40))),
    areaCode: fc.oneof(fc.constant('330106'), anyString),
    hallCode: fc.oneof(fc.constant('H01'), anyString),
    windowNo: fc.oneof(fc.constant('3'), anyString),
    bridge: fc.oneof(fc.constant('0.1.0'), anyString),
    extra: anyValue,
  },
  { requiredKeys: [] },
);

/** A valid birth or registration with at most one field changed: most make rows, each change probes one rule. */
const nearlyValid = fc
  .tuple(
    fc.boolean(),
    iso,
    fc.option(fc.tuple(fc.constantFrom('online', 'at', 'publicKey', 'areaCode', 'hallCode', 'windowNo', 'bridge', 'provisioning', 'extra'), anyValue), { nil: undefined }),
  )
  .map(([provisioning, at, change]) => {
    const body: Record<string, unknown> = provisioning
      ? { online: false, provisioning: true, at, publicKey: KEY, areaCode: '330106', hallCode: 'H01', windowNo: '3', bridge: '0.1.0' }
      : { online: true, at, publicKey: KEY, bridge: '0.1.0' };
    if (change) body[change[0]] = change[1];
    return Buffer.from(JSON.stringify(body));
  });

const payload = fc.oneof(
  { weight: 3, arbitrary: nearlyValid },
  stateBody.map((body) => Buffer.from(JSON.stringify(body))),
  // The same as text a serializer would never write: raw lone surrogates and \u0000 escapes.
  stateBody.map((body) => Buffer.from(JSON.stringify(body).replace(/"bridge":"[^"]*"/, '"bridge":"\\ud800\\u0000"'))),
  fc.jsonValue({ maxDepth: 5 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.integer({ min: 8 * 1024, max: 40 * 1024 }).map((n) => Buffer.from(JSON.stringify({ online: true, publicKey: KEY, pad: 'x'.repeat(n) }))),
  fc.integer({ min: 20, max: 200 }).map((depth) => Buffer.from(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)),
  fc.constant(Buffer.alloc(0)),
);

const topicOf = (id: string, leaf: string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(`${PREFIX}/${id}/${leaf}`) },
    { weight: 1, arbitrary: fc.constantFrom(`${PREFIX}/${id}/${leaf}/x`, `${PREFIX}//${leaf}`, `other/${id}/${leaf}`, `${PREFIX}/${id} x/${leaf}`, `${PREFIX}/${'t'.repeat(65)}/${leaf}`, '') },
  );

/** What the protocol's own schemas say a row may be made from. */
function registers(topic: string, id: string, bytes: Buffer): boolean {
  if (topic !== `${PREFIX}/${id}/state`) return false;
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return false;
  }
  const provisioning = typeof body === 'object' && body !== null && (body as { provisioning?: unknown }).provisioning === true;
  const parsed = provisioning ? registrationSchema.safeParse(body) : birthSchema.safeParse(body);
  return parsed.success && typeof (parsed.data as { publicKey?: unknown }).publicKey === 'string';
}

describe('TerminalRegistry, fuzzed with hostile state and telemetry', () => {
  let db: PgliteDatabase;
  const publisher: Publisher = { publish: async () => undefined };

  beforeAll(async () => {
    db = await openTestPglite();
    await migrate(db);
  });
  afterAll(async () => {
    await db.close();
  });

  for (const approval of ['manual', 'first-key'] as const) {
    it(`${approval}: never throws, never fails a write, counts every message, makes a row only from a valid keyed state`, async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.constantFrom('state', 'telemetry'), payload), { minLength: 1, maxLength: 6 }).chain((messages) =>
            fc.tuple(fc.constant(messages), fc.tuple(...messages.map(([leaf]) => topicOf('{id}', leaf)))),
          ),
          async ([messages, topics]) => {
            const id = `F${run}`;
            run += 1;
            const registry = new TerminalRegistry({ db, publisher, prefix: PREFIX, clock: { now: () => new Date('2026-11-30T08:00:00Z') }, logger: pino({ level: 'silent' }), approval, terminalConfig: () => undefined });
            let mayRegister = false;
            messages.forEach(([leaf, bytes], i) => {
              const topic = (topics[i] ?? '').replace('{id}', id);
              expect(() => (leaf === 'state' ? registry.receiveState(topic, bytes) : registry.receiveTelemetry(topic, bytes))).not.toThrow();
              if (leaf === 'state') mayRegister ||= registers(topic, id, bytes);
            });
            await registry.idle();
            const stats = registry.stats();
            expect(stats.dbFailures).toBe(0);
            expect(stats.states + stats.telemetry + stats.unreadable + stats.cleared + stats.shed).toBe(messages.length);
            const { rows } = await db.query('SELECT terminal_id FROM terminals WHERE terminal_id = $1', [id]);
            if (!mayRegister) expect(rows).toEqual([]);
          },
        ),
        { seed: SEED, numRuns: 150 },
      );
      // Not vacuous: valid keyed states were among the messages, and made rows.
      const made = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM terminals WHERE terminal_id ~ '^F[0-9]+$'");
      expect(made.rows[0]?.n).toBeGreaterThan(5);
      // Rows other than the fuzzed terminals' own: none (a hostile topic level never names a row).
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM terminals WHERE terminal_id !~ '^F[0-9]+$'");
      expect(rows[0]?.n).toBe(0);
      await db.exec('TRUNCATE terminals, operator_actions CASCADE');
    });
  }

  it('instances joining at any point and reading the same states interleaved in any way leave the row as the last state says', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        // What the terminal published, in order: a birth first, then births and last wills.
        fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
        // Where each of the other two instances joined (it reads the retained state then, and what follows).
        fc.tuple(fc.nat(), fc.nat()),
        // The order in which the instances get to write (each in its own stream's order).
        fc.array(fc.nat({ max: 2 }), { minLength: 30, maxLength: 30 }),
        async (later, joins, schedule) => {
          const id = `S${run}`;
          run += 1;
          const published = [true, ...later].map((isBirth, i) =>
            isBirth ? Buffer.from(JSON.stringify({ online: true, at: new Date(Date.UTC(2026, 10, 30, 7, i)).toISOString(), publicKey: KEY })) : Buffer.from('{"online":false}'),
          );
          const streams = [0, ...joins.map((j) => j % published.length)].map((from) => published.slice(from));
          const registries = streams.map(
            () => new TerminalRegistry({ db, publisher, prefix: PREFIX, clock: { now: () => new Date('2026-11-30T08:00:00Z') }, logger: pino({ level: 'silent' }), approval: 'first-key', terminalConfig: () => undefined }),
          );
          const next = streams.map(() => 0);
          const step = async (r: number): Promise<void> => {
            const message = streams[r]![next[r]!];
            if (message === undefined) return;
            next[r]! += 1;
            registries[r]!.receiveState(`${PREFIX}/${id}/state`, message);
            await registries[r]!.idle();
          };
          for (const r of schedule) await step(r);
          for (let r = 0; r < streams.length; r += 1) while (next[r]! < streams[r]!.length) await step(r);
          const { rows } = await db.query<{ online: boolean }>('SELECT online FROM terminals WHERE terminal_id = $1', [id]);
          expect(rows[0]?.online).toBe(later.length === 0 ? true : later[later.length - 1]);
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  });
});
