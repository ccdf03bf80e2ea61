import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pathChars, send, short, type Junk } from '../support/fuzz-http.js';
import { z } from 'zod';
import { migrate } from '../../gateway/db/migrate.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { openTestPglite } from '../support/pglite-template.js';
import { startAdminHttp, type AdminHttp } from '../../gateway/http/admin-http.js';
import type { Publisher } from '../../gateway/ports.js';
import { shortFingerprint } from '../../gateway/registry/key-fingerprint.js';
import { TerminalRegistry } from '../../gateway/registry/terminal-registry.js';

/**
 * The gateway's admin API fuzzed from outside: random methods, paths (%-encodings, `//`, very
 * long), headers (Host, token, content-type, operator) and bodies on every route, with pending
 * terminals to approve and refused deliveries to retry. Invariants: it answers every request,
 * never 500; every refusal is `{error, problems}`; and the operator log grows by exactly one line
 * per approve or revoke answered 2xx and per delivery a retry put back (a refused request writes nothing).
 */
const SEED = 20261130;
const TOKEN = 'fuzz-operator-token';
const PREFIX = 'hcp/v1';
const KEYS = Array.from({ length: 3 }, () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64'));

const segment = fc.oneof(fc.constantFrom('T-0', 'T-1', 'T-2', 'T-9'), fc.string({ unit: pathChars, maxLength: 12 }), fc.constant(''));
const ROUTES = ['/api/v1/status', '/api/v1/terminals', '/api/v1/terminals/:id', '/api/v1/terminals/:id/approve', '/api/v1/terminals/:id/revoke', '/api/v1/refusals', '/api/v1/deliveries', '/api/v1/deliveries/retry'];
/** Deliveries the province refused, for retry to act on (one per id; after a retry they wait to be sent). */
const REJECTED = Array.from({ length: 3 }, (_, i) => ({ source: 'record', id: `0193f5a0-0000-7000-8000-00000000000${i}`, caseNo: `C-${i}` }));
const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?status=pending', '?status=x', '?limit=5', '?limit=0', '?limit=99999999999', '?terminal=T-1&disposition=held', '?disposition=rejected&disposition=held', '?a=b', '?%ZZ=1', '?terminal=%00', '?state=rejected', '?state=x', '?case=C-1&limit=2', '?case=', '?state=delivered&state=rejected'),
  fc.string({ unit: pathChars, maxLength: 20 }).map((q) => `?${q}`),
);
const path = fc.oneof(
  fc.tuple(fc.constantFrom(...ROUTES), segment, query).map(([route, id, q]) => `${route.replace(':id', id)}${q}`),
  fc.string({ unit: pathChars, maxLength: 40 }).map((p) => `/${p}`),
  fc.integer({ min: 1000, max: 6000 }).map((n) => `/api/v1/terminals/${'a'.repeat(n)}`),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.constant(''),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.record({ key: fc.oneof(fc.constantFrom(...KEYS), fc.constantFrom(...KEYS.map(shortFingerprint)), fc.string({ maxLength: 20 }), fc.integer()) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.record({ reason: fc.oneof(fc.string({ maxLength: 30 }), fc.constant(' '), fc.integer()), extra: fc.anything() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.record({ deliveries: fc.oneof(fc.subarray(REJECTED), fc.array(fc.record({ source: fc.constantFrom('record', 'later', 'x'), id: fc.oneof(fc.uuid(), fc.string({ maxLength: 10 })), caseNo: fc.string({ maxLength: 70 }) }, { requiredKeys: [] }), { maxLength: 3 }), fc.anything()) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{', '[[[[', '\uFEFF{}', 'null', '"x"', '{"key":"\u0000"}'),
  fc.integer({ min: 16 * 1024, max: 64 * 1024 }).map((n) => `{"reason":"${'x'.repeat(n)}"}`),
);
const junk: fc.Arbitrary<Junk> = fc.record({
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS'), fc.stringMatching(/^[A-Z]{1,10}$/)),
  path,
  headers: fc.record(
    {
      'content-type': fc.constantFrom('application/json', 'APPLICATION/JSON; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', ''),
      authorization: fc.constantFrom(`Bearer ${TOKEN}`, `Bearer ${TOKEN}x`, 'Bearer', `bearer ${TOKEN}`, 'Basic a', ''),
      host: fc.constantFrom('127.0.0.1', 'localhost:1', 'LOCALHOST.', '[::1]', 'evil.example', 'evil.example:80', '[::1', 'a:b:c', ''),
      'x-hcp-operator': fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('li', '<script>', '\t', 'x'.repeat(200))),
    },
    { requiredKeys: [] },
  ),
  body,
});
const WRITE_HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'x-hcp-operator': 'fuzz' };
/** A well-formed write with the token: approves or revokes, or is refused for the terminal's state (409), never for its form; or retries refused deliveries. */
const legitimate: fc.Arbitrary<Junk> = fc.oneof(
  fc.tuple(fc.constantFrom('approve', 'revoke'), fc.integer({ min: 0, max: KEYS.length - 1 }), fc.boolean()).map(([action, i, withKey]) => ({
    method: 'POST',
    path: `/api/v1/terminals/T-${i}/${action}`,
    headers: WRITE_HEADERS,
    body: JSON.stringify(action === 'revoke' ? { reason: 'fuzzed' } : withKey ? { key: shortFingerprint(KEYS[i]!) } : {}),
  })),
  fc.subarray(REJECTED, { minLength: 1 }).map((deliveries) => ({ method: 'POST', path: '/api/v1/deliveries/retry', headers: WRITE_HEADERS, body: JSON.stringify({ deliveries }) })),
);
const request_ = fc.oneof({ weight: 1, arbitrary: legitimate }, { weight: 4, arbitrary: junk });


const refusalSchema = z.strictObject({ error: z.string().min(5), problems: z.array(z.string()) });

describe('gateway admin API, fuzzed from outside', () => {
  let db: PgliteDatabase;
  let registry: TerminalRegistry;
  let api: AdminHttp;
  const publisher: Publisher = { publish: async () => undefined };

  beforeAll(async () => {
    db = await openTestPglite();
    await migrate(db);
    for (const d of REJECTED) {
      await db.query(
        `INSERT INTO deliveries (source, id, case_no, terminal_id, state, rejected_phase, code, last_error, due_at, created_at, updated_at)
         VALUES ($1, $2, $3, 'T-0', 'rejected', 'service', '40001', 'refused by the province', now(), now(), now())`,
        [d.source, d.id, d.caseNo],
      );
    }
    registry = new TerminalRegistry({ db, publisher, prefix: PREFIX, clock: { now: () => new Date() }, logger: pino({ level: 'silent' }), approval: 'manual', terminalConfig: () => undefined });
    api = await startAdminHttp({ host: '127.0.0.1', port: 0, token: TOKEN, registry, db, status: async () => ({ instance: 'fuzz' }), logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await api.stop();
    await db.close();
  });

  it('answers every request, never 500, refusals as {error, problems}, one operator action per write it accepted', async () => {
    let accepted = 0;
    let retriedRows = 0;
    await fc.assert(
      fc.asyncProperty(request_, async (j) => {
        // Terminals with keys waiting, so that approve and revoke have something to act on.
        KEYS.forEach((key, i) => registry.receiveState(`${PREFIX}/T-${i}/state`, Buffer.from(JSON.stringify({ online: true, at: new Date().toISOString(), publicKey: key }))));
        await registry.idle();
        const { status, text } = await send(api.url, j);
        expect(status, short(j)).toBeGreaterThanOrEqual(200);
        expect(status, short(j)).toBeLessThan(500);
        if (j.method === 'HEAD') return;
        const answer = JSON.parse(text) as unknown;
        if (status >= 400) expect(refusalSchema.safeParse(answer).success, `${short(j)} → ${text.slice(0, 200)}`).toBe(true);
        else if (j.method === 'POST') {
          // A retry writes one line per delivery it put back; approve and revoke one each.
          const retried = (answer as { retried?: unknown[] }).retried;
          if (retried !== undefined) retriedRows += retried.length;
          accepted += retried === undefined ? 1 : retried.length;
        }
        const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM operator_actions');
        expect(rows[0]?.n, short(j)).toBe(accepted);
      }),
      { seed: SEED, numRuns: 300 },
    );
    // Not vacuous: some writes were legitimate and went through, a retry among them.
    expect(accepted).toBeGreaterThan(0);
    expect(retriedRows).toBeGreaterThan(0);
    // The server still answers after it all.
    expect((await fetch(`${api.url}/api/v1/status`)).status).toBe(200);
  });
});
