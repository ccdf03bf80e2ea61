import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Sessions } from '../../gateway/accounts/sessions.js';
import { addUser } from '../../gateway/accounts/users.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import type { AdminHttp } from '../../gateway/http/admin-http.js';
import { pathChars, printedShort, send, short, type Junk } from '../support/fuzz-http.js';
import { TEST_KDF, startUsersApi } from '../unit/accounts-fixture.js';

/**
 * The accounts' two boundaries fed hostile input. The admin API's users routes: random names in
 * the path, bodies of every shape, hostile passwords and scopes, with and without the token.
 * Invariants: never a 500; every refusal `{error, problems}`; a refused request stores nothing (the
 * users table and the operator log as they were); an accepted one writes one log line (none for
 * a disable or enable that changed nothing); no answer repeats the password it was sent.
 * Sessions.signIn: hostile names and passwords (and not strings at all) never throw, open a
 * session only for the right pair, and change nothing but the wrong-password count.
 */
const SEED = 20261130;
const TOKEN = 'fuzz-users-token';
const KNOWN = ['wang', 'li', 'zhang'];
const RIGHT = 'the right password';

const hostileText = fc.oneof(
  fc.constantFrom('', ' ', '\0', 'a\nb', '\u202e', '\u001b[2J', "' OR 1=1 --", '"; DROP TABLE users; --', '${jndi:x}', '..', '%00', '王经理', '🔑'.repeat(12), 'x'.repeat(129), 'x'.repeat(5000)),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const name = fc.oneof(fc.constantFrom(...KNOWN, 'Wang', 'wang ', 'nobody', 'a', '-x'), hostileText);
const password = fc.oneof(fc.constantFrom(RIGHT, 'another good password', 'short', 'tab\there password', '          '), hostileText, fc.string({ minLength: 10, maxLength: 30 }));
const scope = fc.oneof(
  fc.record({
    role: fc.oneof(fc.constantFrom('province', 'city', 'county', 'hall'), hostileText),
    areaPrefix: fc.oneof(fc.constantFrom('33', '3301', '330106', '33010', '3301066', '33010a'), hostileText, fc.integer()),
    hallCode: fc.oneof(fc.constant(null), fc.constantFrom('H01', '330106-ZWFW-01'), hostileText),
  }),
  fc.anything(),
);
const userBody = fc.record(
  { username: fc.oneof(name, fc.anything()), displayName: fc.oneof(hostileText, fc.anything()), scope, password: fc.oneof(password, fc.anything()), extra: fc.anything() },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.constant(''),
  userBody.map((b) => JSON.stringify(b)),
  fc.record({ password: fc.oneof(password, fc.anything()) }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
  fc.constantFrom('{}', '{', 'null', '[]', `{"password":"${RIGHT}"`, `{"password":"${RIGHT}",}`),
  // Broken JSON around a password: a refusal must not quote it back.
  fc.tuple(password, fc.constantFrom('', ',}', ' x}', '}}')).map(([pw, tail]) => `{"password":${JSON.stringify(pw)}${tail}`),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
);
const segment = fc.oneof(fc.constantFrom(...KNOWN, 'nobody', 'Wang', '%77ang', '%E4%B8%AD', '%ZZ', ''), fc.string({ unit: pathChars, maxLength: 12 }));
const path = fc.oneof(
  fc.constant('/api/v1/users'),
  fc.tuple(segment, fc.constantFrom('password', 'disable', 'enable', 'remove', 'x', '')).map(([n, action]) => `/api/v1/users/${n}/${action}`),
  fc.string({ unit: pathChars, maxLength: 20 }).map((p) => `/api/v1/users${p}`),
);
const WRITE = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'x-hcp-operator': 'fuzz' };
const junk: fc.Arbitrary<Junk> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE'),
  path,
  headers: fc.oneof(
    fc.constant(WRITE),
    fc.record({ 'content-type': fc.constantFrom('application/json', 'text/plain', ''), authorization: fc.constantFrom(`Bearer ${TOKEN}`, 'Bearer nope', ''), host: fc.constantFrom('127.0.0.1', 'evil.example') }, { requiredKeys: [] }),
  ),
  body,
});
/** Well-formed writes with the token, so that some go through and the log's count is tested on them too. */
const legitimate: fc.Arbitrary<Junk> = fc.oneof(
  fc.tuple(fc.constantFrom(...KNOWN), fc.constantFrom('county', 'hall')).map(([username, role]) => ({
    method: 'POST',
    path: '/api/v1/users',
    headers: WRITE,
    body: JSON.stringify({ username, scope: role === 'hall' ? { role, areaPrefix: '330106', hallCode: 'H01' } : { role, areaPrefix: '330106', hallCode: null }, password: RIGHT }),
  })),
  fc.tuple(fc.constantFrom(...KNOWN), fc.constantFrom('password', 'disable', 'enable', 'remove')).map(([username, action]) => ({
    method: 'POST',
    path: `/api/v1/users/${username}/${action}`,
    headers: WRITE,
    body: action === 'password' ? JSON.stringify({ password: 'another good password' }) : '{}',
  })),
);
/** A sign-in's name and password; now and then the right pair, so that the property also sees sessions open. */
const attempt: fc.Arbitrary<[unknown, unknown]> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<[unknown, unknown]>(['wang', RIGHT]) },
  { weight: 9, arbitrary: fc.tuple(fc.oneof(name, fc.anything()), fc.oneof(password, fc.constantFrom(`${RIGHT} `, RIGHT.toUpperCase(), `${RIGHT}\n`, RIGHT.normalize('NFD')), fc.anything())) },
);
const refusalSchema = z.strictObject({ error: z.string().min(5), problems: z.array(z.string()) });

/** The password a request carries, if any (to check that no answer repeats it). */
function sentPassword(j: Junk): string | undefined {
  let value: unknown;
  try {
    value = (JSON.parse(j.body ?? '') as { password?: unknown } | null)?.password;
  } catch {
    value = /^\{"password":("(?:[^"\\]|\\.)*")/.exec(j.body ?? '')?.[1];
    value = typeof value === 'string' ? JSON.parse(value) : undefined;
  }
  return typeof value === 'string' && value.length >= 6 && !(j.body ?? '').replace(JSON.stringify(value), '').includes(value) ? value : undefined;
}

describe('accounts, fuzzed', () => {
  let db: PgliteDatabase;
  let api: AdminHttp;

  beforeAll(async () => {
    ({ db, api } = await startUsersApi(TOKEN));
  }, 60_000);
  afterAll(async () => {
    await api.stop();
    await db.close();
  });

  const snapshot = async (): Promise<string> => JSON.stringify((await db.query('SELECT username, display_name, role, area_prefix, hall_code, password_hash, disabled FROM users ORDER BY username')).rows);
  const logLines = async (): Promise<number> => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM operator_actions')).rows[0]!.n;

  it('the users routes: never 500, refusals {error, problems}, a refusal stores nothing, an acceptance one log line, no password repeated', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 1, arbitrary: legitimate }, { weight: 3, arbitrary: junk }).map(printedShort), async (j) => {
        const [before, linesBefore] = [await snapshot(), await logLines()];
        const { status, text } = await send(api.url, j);
        expect(status, short(j)).toBeGreaterThanOrEqual(200);
        expect(status, short(j)).toBeLessThan(500);
        const answer = JSON.parse(text) as { changed?: boolean };
        const pw = sentPassword(j);
        if (pw !== undefined) expect(text, short(j)).not.toContain(pw);
        if (status >= 400) {
          expect(refusalSchema.safeParse(answer).success, `${short(j)} → ${text.slice(0, 200)}`).toBe(true);
          expect(await snapshot(), short(j)).toBe(before);
          expect(await logLines(), short(j)).toBe(linesBefore);
        } else if (j.method === 'POST') {
          const wrote = answer.changed === false ? 0 : 1;
          accepted += wrote;
          expect(await logLines(), short(j)).toBe(linesBefore + wrote);
        }
      }),
      { seed: SEED, numRuns: 250 },
    );
    // Not vacuous: writes went through.
    expect(accepted).toBeGreaterThan(5);
  }, 300_000);

  it('signIn: hostile names and passwords never throw, open a session only for the right pair, and store nothing else', async () => {
    const kdf = TEST_KDF;
    await db.exec('TRUNCATE users CASCADE');
    await addUser(db, { username: 'wang', scope: { role: 'county', areaPrefix: '330106', hallCode: null }, password: RIGHT }, { clock: { now: () => new Date() }, actor: 'fuzz', kdf });
    const sessions = new Sessions({ db, clock: { now: () => new Date() }, sessionHours: 1, kdf });
    const before = await snapshot();
    let opened = 0;
    await fc.assert(
      fc.asyncProperty(attempt, async ([username, pw]) => {
        await db.query('UPDATE users SET failed_logins = 0, locked_until = NULL');
        const sessionsBefore = (await db.query('SELECT 1 FROM sessions')).rows.length;
        const result = await sessions.signIn(username as string, pw as string);
        const right = username === 'wang' && pw === RIGHT;
        expect(result.ok, `${JSON.stringify(username)} / ${JSON.stringify(pw)}`).toBe(right);
        if (!result.ok) expect(result.reason).toBe('bad_credentials');
        else opened += 1;
        expect((await db.query('SELECT 1 FROM sessions')).rows.length).toBe(sessionsBefore + (right ? 1 : 0));
        const { rows } = await db.query<{ failed_logins: number }>('SELECT failed_logins FROM users');
        expect(rows[0]!.failed_logins).toBe(username === 'wang' && !right ? 1 : 0);
        if (typeof username === 'string' && typeof pw === 'string' && result.ok) expect(await sessions.authenticate(result.token)).toMatchObject({ username: 'wang' });
      }),
      { seed: SEED, numRuns: 200 },
    );
    expect(await snapshot()).toBe(before);
    expect(opened).toBeGreaterThan(0);
  }, 300_000);
});
