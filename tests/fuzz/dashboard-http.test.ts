import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Scope } from '../../gateway/accounts/scope.js';
import { Sessions } from '../../gateway/accounts/sessions.js';
import { addUser } from '../../gateway/accounts/users.js';
import { WEEKDAYS_CALENDAR } from '../../gateway/alerts/working-days.js';
import type { Database } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import { openTestPglite } from '../support/pglite-template.js';
import { startDashboardHttp, type DashboardHttpOptions } from '../../gateway/dashboard/dashboard-http.js';
import type { ListeningServer } from '../../gateway/http/listen.js';
import { TokenBucketLimiter } from '../../gateway/rate-later/rate-limit.js';
import { storeRating } from '../integration/alerts-fixture.js';
import { pathChars, printedShort, send, type Junk } from '../support/fuzz-http.js';

/**
 * The dashboard's HTTP API fuzzed from outside, signed in as a county manager: random methods,
 * paths, queries, cookies, tokens and bodies on every route. Invariants: every request is
 * answered, never with a 500; every refusal is `{ error: { code, message, problems } }`; nothing
 * of the other county's hall (its hall code, its window) ever appears in an answer; no alert of
 * the other county is acknowledged or followed up, whatever is sent.
 */
const SEED = 20261130;
const PASSWORD = 'correct horse battery';
const OWN: Scope = { role: 'county', areaPrefix: '370102', hallCode: null };
const OTHER: Scope = { role: 'hall', areaPrefix: '370103', hallCode: 'hall-secret' };
/** Only the other hall's data holds these: an answer naming one has leaked it. */
const SECRETS = ['hall-secret', 'SECRET9', 'T-SECRET'];
const NOW = new Date('2026-11-30T04:00:00Z');

let db: Database;
let server: ListeningServer;
let countyToken: string;
let hallToken: string;
let changes: EventEmitter;
let ownAlerts: string[] = [];
let otherAlerts: string[] = [];

/** Signs in by the API as a script does; the token for Authorization: Bearer. */
async function signIn(url: string, username: string): Promise<string> {
  const res = await fetch(`${url}api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD, bearer: true }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

function options(extra: Partial<DashboardHttpOptions> = {}): DashboardHttpOptions {
  const clock = { now: () => NOW };
  return {
    db,
    host: '127.0.0.1',
    port: 0,
    sessions: new Sessions({ db, clock, sessionHours: 12 }),
    timeZone: 'Asia/Shanghai',
    trustForwardedFor: false,
    cancelsPerDay: 5,
    followUp: { callbackWorkingDays: 1, appealWorkingDays: 5, rectifyWorkingDays: 15 },
    calendar: WEEKDAYS_CALENDAR,
    changes: changes as unknown as DashboardHttpOptions['changes'],
    clock,
    // The fuzz signs in often: the per-address limit is tested on its own below.
    signInLimiter: new TokenBucketLimiter({ burst: 1_000_000, perMinute: 1_000_000, clock }),
    ...extra,
  };
}

beforeAll(async () => {
  changes = new EventEmitter();
  db = await openTestPglite();
  await migrate(db);
  const change = { clock: { now: () => NOW }, actor: 'fuzz' };
  await addUser(db, { username: 'county-a', displayName: '历下区管理员', scope: OWN, password: PASSWORD }, change);
  await addUser(db, { username: 'hall-b', scope: OTHER, password: PASSWORD }, change);
  const at = new Date('2026-11-30T02:15:08Z');
  for (const grade of ['dissatisfied', 'very_dissatisfied', 'satisfied'] as const) {
    await storeRating(db, grade, { terminalId: 'T-OWN-1', areaCode: '370102', hallCode: 'hall-lixia', windowNo: '7' }, at);
    await storeRating(db, grade, { terminalId: 'T-SECRET', areaCode: '370103', hallCode: 'hall-secret', windowNo: 'SECRET9' }, at);
  }
  const ids = async (hall: string) => (await db.query<{ id: string }>(`SELECT id::text AS id FROM alerts WHERE hall_code = $1 ORDER BY id`, [hall])).rows.map((r) => r.id);
  ownAlerts = await ids('hall-lixia');
  otherAlerts = await ids('hall-secret');
  expect(ownAlerts).toHaveLength(2);
  expect(otherAlerts).toHaveLength(2);
  server = await startDashboardHttp(options());
  countyToken = await signIn(`${server.url}/`, 'county-a');
  hallToken = await signIn(`${server.url}/`, 'hall-b');
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.close();
});

const alertId = fc.oneof(
  fc.constantFrom('1', '2', '3', '4', '5', '0', '-1', '999999999999999999', '1e3', '01', '%31'),
  fc.string({ unit: pathChars, maxLength: 10 }),
);
const ROUTES = ['/', '/dashboard.js', '/dashboard.css', '/vendor/echarts.min.js', '/api/login', '/api/logout', '/api/me', '/api/stats', '/api/alerts', '/api/alerts/:id/ack', '/api/alerts/:id/follow-up', '/api/windows', '/api/misuse', '/api/exports'];
const queryValue = fc.oneof(
  fc.constantFrom('2026-11-30', '2026-11-01', '2026-02-30', '1999-01-01', '2026-13', '2026-11', 'true', 'false', '1', '0', 'hall', 'window', 'staff', 'item', 'day', 'total', 'open', 'all', 'unacknowledged', 'bad_review,paper_out', 'records', 'windows', 'xlsx', 'csv', '-5', '100000', ''),
  fc.string({ unit: pathChars, maxLength: 12 }),
);
const queryKey = fc.constantFrom('from', 'to', 'by', 'flagged', 'state', 'kinds', 'limit', 'offset', 'month', 'what', 'format', 'area', 'hall', 'hallCode', 'scope', '%ZZ', '');
const query = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(queryKey, queryValue), { maxLength: 5 }).map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
  fc.string({ unit: pathChars, maxLength: 30 }).map((q) => `?${q}`),
);
const path = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), alertId, query).map(([route, id, q]) => `${route.replace(':id', id)}${q}`) },
  { weight: 1, arbitrary: fc.string({ unit: pathChars, maxLength: 40 }).map((p) => `/${p}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 8000 }).map((n) => `/api/alerts/${'9'.repeat(n)}/ack`) },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.constant(''),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.record({ status: fc.constantFrom('called_back', 'appealed', 'rectifying', 'rectified', 'closed', 'open', 'x'), note: fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.constant('x'.repeat(600))) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.record({ username: fc.constantFrom('county-a', 'hall-b', 'nobody', '', 'COUNTY-A'), password: fc.constantFrom(PASSWORD, 'wrong', '', 'x'.repeat(300)), bearer: fc.constantFrom(true, false, 'yes') }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{', '[[[[', '\uFEFF{}', 'null', '"x"', '{"status":"\u0000"}'),
  fc.integer({ min: 8 * 1024, max: 32 * 1024 }).map((n) => `{"note":"${'x'.repeat(n)}"}`),
);
const cookieJunk = fc.constantFrom('hcp-dashboard=', 'hcp-dashboard=abc', `hcp-dashboard=${'A'.repeat(43)}`, 'hcp-dashboard=a; hcp-dashboard=b', 'other=1', '=;=;', '\u00e9=1');
const junk = (token: () => string): fc.Arbitrary<Junk> =>
  fc
    .record({
      method: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS') }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,10}$/) }),
      path,
      headers: fc.record(
        {
          'content-type': fc.constantFrom('application/json', 'APPLICATION/JSON; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', ''),
          authorization: fc.constantFrom('own', 'own', 'own', 'Bearer', 'Bearer x', 'bearer own', 'Basic a', ''),
          cookie: cookieJunk,
          origin: fc.constantFrom('http://evil.example', 'null', 'http://127.0.0.1'),
          'sec-fetch-site': fc.constantFrom('same-origin', 'cross-site', 'none', 'same-site'),
          'x-forwarded-for': fc.constantFrom('1.2.3.4', '', 'x, y'),
        },
        { requiredKeys: [] },
      ),
      body,
    })
    .map((j): Junk => {
      const headers: Record<string, string> = { ...j.headers };
      if (headers.authorization === 'own') headers.authorization = `Bearer ${token()}`;
      else if (headers.authorization === 'bearer own') headers.authorization = `bearer ${token()}`;
      return printedShort({ ...j, headers });
    });

const refusalSchema = z.strictObject({ error: z.strictObject({ code: z.string().min(3), message: z.string().min(2), problems: z.array(z.string()) }) });

async function check(j: Junk): Promise<{ status: number; text: string }> {
  const answer = await send(server.url, j);
  expect(answer.status, answer.text.slice(0, 300)).toBeGreaterThanOrEqual(200);
  expect(answer.status, answer.text.slice(0, 300)).toBeLessThan(500);
  if (answer.status >= 400 && j.method !== 'HEAD') expect(refusalSchema.safeParse(JSON.parse(answer.text)).success, answer.text.slice(0, 300)).toBe(true);
  for (const secret of SECRETS) expect(answer.text, `leaked ${secret}`).not.toContain(secret);
  return answer;
}

async function otherAlertsUntouched(): Promise<void> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM alerts a WHERE a.hall_code = 'hall-secret' AND (a.acknowledged_at IS NOT NULL OR a.follow_up <> 'open' OR EXISTS (SELECT 1 FROM follow_up_events e WHERE e.alert_id = a.id))`,
  );
  expect(rows[0]!.n).toBe(0);
}

describe('dashboard HTTP API, fuzzed from outside', () => {
  it('answers every hostile request without a 500, refusals with reasons, never another scope’s data', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(junk(() => countyToken), async (j) => {
        const { status, text } = await check(j);
        const code = status >= 400 && j.method !== 'HEAD' ? (JSON.parse(text) as { error: { code: string } }).error.code : String(status);
        seen.set(code, (seen.get(code) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: 400, endOnFailure: true },
    );
    await otherAlertsUntouched();
    // Among the hostile requests were sign-outs with the county's own token (a page's own POST): the suite signs in again.
    countyToken = await signIn(`${server.url}/`, 'county-a');
    // The fuzz reached the routes themselves, not only the doors in front of them.
    for (const code of ['200', 'bad_request', 'unauthorized', 'not_found', 'method_not_allowed', 'unsupported_media_type', 'cross_site']) expect(seen.get(code) ?? 0, `${code} in ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
  }, 240_000);

  it('never acknowledges or follows up an alert outside the scope: answered as not found', async () => {
    const target = fc.tuple(fc.constantFrom(...otherAlerts), fc.constantFrom('ack', 'follow-up'), fc.constantFrom('called_back', 'closed'), fc.constantFrom('application/json', 'application/json; charset=utf-8'));
    await fc.assert(
      fc.asyncProperty(target, async ([id, action, status, type]) => {
        const j: Junk = { method: 'POST', path: `/api/alerts/${id}/${action}`, headers: { 'content-type': type, authorization: `Bearer ${countyToken}` }, body: JSON.stringify(action === 'ack' ? {} : { status, note: 'n' }) };
        const answer = await check(j);
        expect(answer.status).toBe(404);
        expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'not_found' } });
        const history = await check({ method: 'GET', path: `/api/alerts/${id}/follow-up`, headers: { authorization: `Bearer ${countyToken}` }, body: undefined });
        expect(history.status).toBe(404);
      }),
      { seed: SEED, numRuns: 20 },
    );
    await otherAlertsUntouched();
    // The same request in scope does act: the refusal above is the scope's, not the request's.
    const own = await send(server.url, { method: 'POST', path: `/api/alerts/${ownAlerts[0]}/ack`, headers: { 'content-type': 'application/json', authorization: `Bearer ${countyToken}` }, body: '{}' });
    expect(own.status).toBe(200);
    const hall = await send(server.url, { method: 'POST', path: `/api/alerts/${otherAlerts[0]}/ack`, headers: { 'content-type': 'application/json', authorization: `Bearer ${hallToken}` }, body: '{}' });
    expect(hall.status).toBe(200);
  }, 60_000);

  it('lists only the scope’s alerts and figures, whatever the query asks for', async () => {
    const q = fc.tuple(
      fc.constantFrom(
        '/api/alerts?state=all',
        '/api/stats?by=hall',
        '/api/stats?by=window&flagged=true',
        '/api/stats?by=staff',
        '/api/stats?by=total',
        '/api/misuse?from=2026-11-01&to=2026-11-30',
        '/api/windows?',
        '/api/exports?month=2026-11&format=csv&what=records&flagged=true',
        '/api/exports?month=2026-11&format=csv&what=windows',
        '/api/exports?month=2026-11&format=csv&what=staff',
      ), fc.constantFrom('', '&hall=hall-secret', '&area=370103', '&scope=province'));
    await fc.assert(
      fc.asyncProperty(q, async ([base, extra]) => {
        const answer = await send(server.url, { method: 'GET', path: base + extra, headers: { authorization: `Bearer ${countyToken}` }, body: undefined });
        // Parameters that would widen the scope are not parameters at all: refused.
        expect(answer.status, answer.text.slice(0, 200)).toBe(extra === '' ? 200 : 400);
        for (const secret of SECRETS) expect(answer.text).not.toContain(secret);
      }),
      { seed: SEED, numRuns: 20 },
    );
    const csv = await fetch(`${server.url}/api/exports?month=2026-11&format=csv&what=windows`, { headers: { authorization: `Bearer ${countyToken}` } });
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="hcp-windows-2026-11-370102\.csv"/);
    expect(await csv.text()).toContain('hall-lixia');
    const alerts = await fetch(`${server.url}/api/alerts?state=all`, { headers: { authorization: `Bearer ${countyToken}` } });
    const listed = ((await alerts.json()) as { alerts: { id: string; hallCode: string }[] }).alerts;
    expect(listed.map((a) => a.id).sort()).toEqual([...ownAlerts].sort());
  });

  it('streams “changed” to a signed-in page only, saying what changed and nothing of it', async () => {
    expect((await fetch(`${server.url}/api/events`)).status).toBe(401);
    const controller = new AbortController();
    const res = await fetch(`${server.url}/api/events`, { headers: { authorization: `Bearer ${hallToken}` }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (pattern: RegExp): Promise<void> => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before ${pattern}: ${text}`);
        text += Buffer.from(value).toString('utf8');
      }
    };
    await until(/retry: \d+/);
    changes.emit('changed', { records: true, alerts: false, terminals: true });
    await until(/event: changed\ndata: \{"records":true,"alerts":false,"terminals":true\}\n\n/);
    controller.abort();
  });

  it('takes a change from the dashboard’s own page only (CSRF): JSON, and no other site named by the browser', async () => {
    const login = await fetch(`${server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'county-a', password: PASSWORD }) });
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^hcp-dashboard=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    expect(await login.json()).not.toHaveProperty('token');
    const cookie = setCookie.split(';')[0]!;
    const ack = (headers: Record<string, string>, body = '{}') => send(server.url, { method: 'POST', path: `/api/alerts/${ownAlerts[1]}/ack`, headers: { cookie, ...headers }, body });
    const refused = [
      await ack({ 'content-type': 'text/plain' }),
      await ack({ 'content-type': 'application/x-www-form-urlencoded' }, 'a=1'),
      await ack({ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }),
      await ack({ 'content-type': 'application/json', 'sec-fetch-site': 'same-site' }),
      await ack({ 'content-type': 'application/json', origin: 'http://evil.example' }),
    ];
    expect(refused.map((r) => r.status)).toEqual([415, 415, 403, 403, 403]);
    expect((await db.query(`SELECT acknowledged_at FROM alerts WHERE id = $1`, [ownAlerts[1]])).rows).toEqual([{ acknowledged_at: null }]);
    const own = await ack({ 'content-type': 'application/json', 'sec-fetch-site': 'same-origin', origin: server.url });
    expect(own.status, own.text).toBe(200);
    // What a browser sends from a page under no-referrer (Origin "null"), and a hall proxy's Basic credentials beside the cookie: still the page's own.
    const nullOrigin = await ack({ 'content-type': 'application/json', 'sec-fetch-site': 'same-origin', origin: 'null', authorization: 'Basic aGFsbDpwcm94eQ==' });
    expect(nullOrigin.status, nullOrigin.text).toBe(200);
    // A body that is not JSON is refused without quoting it back: it may hold a password.
    const broken = await send(server.url, { method: 'POST', path: '/api/login', headers: { 'content-type': 'application/json' }, body: '{"username":"county-a","password":"hunter2-secret' });
    expect(broken.status).toBe(400);
    expect(broken.text).not.toContain('hunter2');
    // Out, and the cookie opens nothing any more.
    const out = await send(server.url, { method: 'POST', path: '/api/logout', headers: { cookie, 'content-type': 'application/json' }, body: '{}' });
    expect(out.status).toBe(200);
    expect((await send(server.url, { method: 'GET', path: '/api/me', headers: { cookie }, body: undefined })).status).toBe(401);
  });

  it('ends an open event stream once its session has ended (logout), saying so', async () => {
    const quick = await startDashboardHttp(options({ streamKeepAliveMs: 100 }));
    try {
      const token = await signIn(`${quick.url}/`, 'hall-b');
      const res = await fetch(`${quick.url}/api/events`, { headers: { authorization: `Bearer ${token}` } });
      const reader = res.body!.getReader();
      let text = '';
      const read = async (): Promise<boolean> => {
        const { value, done } = await reader.read();
        if (!done) text += Buffer.from(value).toString('utf8');
        return done;
      };
      while (!text.includes(': keep-alive')) await read();
      await fetch(`${quick.url}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
      while (!(await read()));
      expect(text).toMatch(/event: signed-out\ndata: \{\}\n\n$/);
    } finally {
      await quick.stop();
    }
  });

  it('over HTTPS, marks the cookie Secure under a __Host- name', async () => {
    const secure = await startDashboardHttp(options({ publicUrl: 'https://hall.example.gov.cn/dashboard/' }));
    try {
      const login = await fetch(`${secure.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'county-a', password: PASSWORD }) });
      expect(login.headers.get('set-cookie')).toMatch(/^__Host-hcp-dashboard=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict; Secure$/);
      // A POST from the public address's page is its own.
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const me = await send(secure.url, { method: 'POST', path: '/api/logout', headers: { cookie, 'content-type': 'application/json', origin: 'https://hall.example.gov.cn' }, body: '{}' });
      expect(me.status).toBe(200);
    } finally {
      await secure.stop();
    }
  });

  it('limits sign-in attempts per address, refusing with when to try again', async () => {
    const clock = { now: () => NOW };
    const limited = await startDashboardHttp(options({ signInLimiter: new TokenBucketLimiter({ burst: 3, perMinute: 1, clock }) }));
    try {
      const attempt = () => fetch(`${limited.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'county-a', password: 'wrong password' }) });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await attempt()).status);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      const refused = await attempt();
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await refused.json()).toMatchObject({ error: { code: 'rate_limited' } });
    } finally {
      await limited.stop();
    }
  }, 30_000);
});
