import fc from 'fast-check';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { startRateLaterHttp, type RateLaterHttp } from '../../gateway/rate-later/rate-later-http.js';
import { windowSignUrl } from '../../gateway/rate-later/window-sign.js';
import { GRADE_INFO, GRADES, type Grade } from '../../protocol/grades.js';
import { pathChars, printedShort, send, short, type Junk } from '../support/fuzz-http.js';
import { approvedTerminal, CATALOG, FOOD, openRateLaterDb, receiptUrl, storeInvitation } from '../unit/rate-later-fixture.js';

/**
 * The rate-later page fuzzed from outside: hostile query strings (genuine receipts with a
 * parameter changed, doubled or dropped, random tokens, junk), methods, headers and form bodies.
 * Invariants: it answers every request with a page under its CSP, never 5xx; a rating is stored
 * only by a 303 (one row per case of a genuine receipt, never twice), with a grade and reasons
 * the page offered. The same for a window sign's page (hall, window and the tapped case changed
 * or made up): a rating from it is stored only for a case on that window's list, marked so.
 */
const SEED = 20261130;
const CLOSED = new Date('2026-11-22T02:30:00Z');
const RECEIPTS = 40;

let db: PgliteDatabase;
let server: RateLaterHttp;
/** Genuine receipts' queries (without the leading "?"), one case each. */
const genuine: string[] = [];
const genuineCases = new Set<string>();
/** The window sign's: its list's query (without "?"), and its offered invitations and their cases. */
const SIGN = new URL(windowSignUrl('http://page.example/rate', { hallCode: 'XH-ZWFW', windowNo: 'A03' })).search.slice(1);
const signInvitations: string[] = [];
const signCases = new Set<string>();
const SIGN_CASES = 6;

beforeAll(async () => {
  db = await openRateLaterDb();
  const terminal = await approvedTerminal(db);
  await db.query("UPDATE terminals SET area_code = '330106', hall_code = 'XH-ZWFW', window_no = 'A03'");
  server = await startRateLaterHttp({ db, host: '127.0.0.1', port: 0, reasonCatalog: CATALOG, followUpAllowed: true, instance: 'fuzz', clock: { now: () => new Date(CLOSED.getTime() + 3600_000) }, rateLimiter: { take: () => ({ ok: true }) } });
  for (let i = 0; i < RECEIPTS; i++) {
    const id = uuidv7();
    const caseNo = `330106202611${String(i).padStart(6, '0')}`;
    genuineCases.add(caseNo);
    await storeInvitation(db, terminal, { id, closedAt: CLOSED, outcome: i % 4 === 0 ? 'rated' : 'not_rated', services: [{ ...FOOD, caseNo }] });
    genuine.push(new URL(receiptUrl('http://page.example/', terminal, { invitationId: id, caseNos: [caseNo], issuedAt: CLOSED })).search.slice(1));
  }
  // Closed minutes before the page's clock: on the window's list (a cancelled, a rated and another window's are not).
  for (let i = 0; i < SIGN_CASES + 3; i++) {
    const id = uuidv7();
    const caseNo = `330106202612${String(i).padStart(6, '0')}`;
    const outcome = i === SIGN_CASES ? 'cancelled' : i === SIGN_CASES + 1 ? 'rated' : 'not_rated';
    await storeInvitation(db, terminal, { id, closedAt: new Date(CLOSED.getTime() + 3600_000 - (i + 1) * 60_000), outcome, windowNo: i === SIGN_CASES + 2 ? 'A04' : 'A03', services: [{ ...FOOD, caseNo }] });
    signInvitations.push(id);
    if (i < SIGN_CASES) signCases.add(caseNo);
  }
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await db?.close();
});

const junkText = fc.string({ unit: pathChars, maxLength: 30 });
const tokenParam = fc.constantFrom('v', 't', 'i', 'c', 'ts', 's', 'done', 'src');
/** A genuine receipt's query, changed: a parameter's value replaced, doubled or dropped, or left as it is. */
const mutatedQuery = fc.tuple(fc.nat({ max: RECEIPTS - 1 }), fc.constantFrom('keep', 'replace', 'double', 'drop', 'append'), tokenParam, junkText).map(([i, how, key, value]) => {
  const q = new URLSearchParams(genuine[i]!);
  if (how === 'replace') q.set(key, value);
  if (how === 'double') q.append(key, value);
  if (how === 'drop') q.delete(key);
  if (how === 'append') q.set(key, `${q.get(key) ?? ''}${value}`);
  return q.toString();
});
/** The sign's query with a case tapped (offered or not), its parameters changed, doubled or dropped. */
const signQuery = fc
  .tuple(fc.nat({ max: SIGN_CASES + 4 }), fc.uuid(), fc.constantFrom('keep', 'keep', 'replace', 'double', 'drop'), fc.constantFrom('hall', 'window', 'case', 'done'), junkText)
  .map(([i, uuid, how, key, value]) => {
    const q = new URLSearchParams(SIGN);
    // Offered, not offered (cancelled, rated, another window's), made up, or none (the list).
    if (i < signInvitations.length) q.set('case', signInvitations[i]!);
    else if (i === signInvitations.length) q.set('case', uuid);
    if (how === 'replace') q.set(key, value);
    if (how === 'double') q.append(key, value);
    if (how === 'drop') q.delete(key);
    return q.toString();
  });
const query = fc.oneof(
  { weight: 4, arbitrary: mutatedQuery },
  { weight: 2, arbitrary: signQuery },
  { weight: 1, arbitrary: junkText },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('1', '2', ''), junkText, junkText, junkText, fc.stringMatching(/^\d{0,14}$/), fc.stringMatching(/^[A-Za-z0-9_-]{0,90}$/)).map(([v, t, i, c, ts, s]) => new URLSearchParams({ v, t, i, c, ts, s }).toString()) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 9000 }).map((n) => `v=1&c=${'9'.repeat(n)}`) },
);
const grade = fc.oneof(fc.constantFrom<string>(...GRADES), fc.constantFrom('', 'good', 'very_satisfied ', 'Satisfied'), fc.string({ maxLength: 12 }));
const reason = fc.oneof(fc.constantFrom(...CATALOG.reasons.map((r) => r.code)), fc.constantFrom('R99', '', 'r01'), fc.string({ maxLength: 40 }));
const formBody = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.array(grade, { maxLength: 2 }), fc.array(reason, { maxLength: 7 })).map(([gs, rs]) => new URLSearchParams([...gs.map((g): [string, string] => ['grade', g]), ...rs.map((r): [string, string] => ['reason', r])]).toString()) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('grade=%ZZ', 'grade', '=&=&', 'grade=satisfied&grade', '%00=%00', 'grade=very_satisfied&reason=R01&reason=R01') },
  { weight: 1, arbitrary: fc.integer({ min: 4000, max: 20_000 }).map((n) => `grade=satisfied&x=${'a'.repeat(n)}`) },
);
const request_: fc.Arbitrary<Junk> = fc
  .record({
    method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'POST', 'HEAD', 'PUT', 'OPTIONS'),
    path: fc.oneof(fc.constantFrom('/', '/rate', '/rate/', '/favicon.ico', '/robots.txt'), junkText.map((p) => `/${p}`)),
    query,
    headers: fc.record(
      {
        'content-type': fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=UTF-8', 'APPLICATION/X-WWW-FORM-URLENCODED', 'multipart/form-data', 'application/json', 'text/plain', ''),
        origin: fc.constantFrom('null', 'https://evil.example', 'http://127.0.0.1', 'not a url', ''),
        'sec-fetch-site': fc.constantFrom('same-origin', 'none', 'cross-site', 'same-site', 'x'),
        'x-forwarded-for': fc.constantFrom('203.0.113.1', ', ,', 'x'.repeat(300)),
      },
      { requiredKeys: [] },
    ),
    body: fc.option(formBody, { nil: undefined }),
  })
  .map(({ path, query: q, ...rest }) => printedShort({ ...rest, path: `${path.split('?')[0]!.split('#')[0]}?${q}` }));

/** A citizen's own submit: a genuine receipt, a grade, perhaps reasons; stored unless its case was rated already. */
const legitimate: fc.Arbitrary<Junk> = fc
  .tuple(fc.nat({ max: RECEIPTS - 1 }), fc.constantFrom(...GRADES), fc.subarray(CATALOG.reasons.map((r) => r.code)))
  .map(([i, g, rs]) =>
    printedShort({
      method: 'POST',
      path: `/rate?${genuine[i]!}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', origin: 'null' },
      body: new URLSearchParams([['grade', g], ...rs.map((r): [string, string] => ['reason', r])]).toString(),
    }),
  );

/** A citizen's own submit from the window's sign: a case the list offers (or offered), a grade. */
const fromSign: fc.Arbitrary<Junk> = fc.tuple(fc.nat({ max: SIGN_CASES - 1 }), fc.constantFrom(...GRADES)).map(([i, g]) =>
  printedShort({
    method: 'POST',
    path: `/rate?${SIGN}&case=${signInvitations[i]!}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams([['grade', g]]).toString(),
  }),
);

describe('rate-later page, fuzzed from outside', () => {
  it('answers every request with a page, never 5xx, and stores only by a 303: genuine cases, offered grades and reasons, once each', async () => {
    let storedBy303 = 0;
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 1, arbitrary: legitimate }, { weight: 1, arbitrary: fromSign }, { weight: 4, arbitrary: request_ }), async (j) => {
        const { status, text } = await send(server.url, j);
        expect(status, short(j)).toBeGreaterThanOrEqual(200);
        expect(status, short(j)).toBeLessThan(500);
        seen.add(status);
        if (status === 303) storedBy303 += 1;
        if (j.method !== 'HEAD' && status !== 303 && !j.path.startsWith('/robots.txt')) expect(text, short(j)).toMatch(/^<!doctype html>/);
        const { rows } = await db.query<{ case_no: string; grade: Grade; reasons: string[]; via: string }>('SELECT case_no, grade, reasons, via FROM later_ratings');
        expect(rows.length, short(j)).toBe(storedBy303);
        for (const row of rows) {
          // A receipt's rating for a receipt's case; the sign's only for a case its list offered.
          expect((row.via === 'window_sign' ? signCases : genuineCases).has(row.case_no), short(j)).toBe(true);
          expect(GRADES).toContain(row.grade);
          expect(row.reasons.every((r) => CATALOG.reasons.some((c) => c.code === r))).toBe(true);
          if (GRADE_INFO[row.grade].class !== 'bad') expect(row.reasons).toEqual([]);
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
    // Not vacuous: some genuine submissions went through.
    expect(storedBy303).toBeGreaterThan(0);
    const { rows: vias } = await db.query<{ via: string; n: number }>('SELECT via, count(*)::int AS n FROM later_ratings GROUP BY via ORDER BY via');
    expect(vias.map((v) => v.via)).toEqual(['receipt', 'window_sign']);
    for (const status of [200, 400, 403, 404, 409]) expect([...seen]).toContain(status);
    expect((await fetch(`${server.url}/`)).status).toBe(200);
  });
});
