import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../gateway/db/migrate.js';
import { PostgresDatabase } from '../../gateway/db/postgres.js';
import { startRateLaterHttp, type RateLaterHttp } from '../../gateway/rate-later/rate-later-http.js';
import { postgresTestsRun, startPostgres, warnPostgresSkipped, type TestPostgres } from '../support/postgres-server.js';
import { approvedTerminal, CATALOG, FOOD, receiptUrl, storeInvitation, type TestTerminal } from './rate-later-fixture.js';

/**
 * The rate-later page on Debian's PostgreSQL, three instances with their own pools: the same
 * receipts submitted on all three at once (one rating per case, the UNIQUE key deciding), and
 * batch receipts that share a case racing (all of a receipt's cases or none).
 */
const runPostgres = postgresTestsRun();
if (!runPostgres) warnPostgresSkipped();

const CLOSED = new Date('2026-11-22T02:30:00Z');
const RECEIPTS = 20;

describe.skipIf(!runPostgres)('rate-later page on PostgreSQL, three instances at once', () => {
  let server: TestPostgres;
  const pools: PostgresDatabase[] = [];
  const pages: RateLaterHttp[] = [];
  let terminal: TestTerminal;

  beforeAll(async () => {
    server = await startPostgres();
    for (let i = 0; i < 3; i += 1) pools.push(await PostgresDatabase.open(server.url, { poolSize: 4 }));
    await Promise.all(pools.map((db) => migrate(db)));
    terminal = await approvedTerminal(pools[0]!);
    for (const [i, db] of pools.entries()) {
      pages.push(await startRateLaterHttp({ db, host: '127.0.0.1', port: 0, reasonCatalog: CATALOG, followUpAllowed: false, instance: `gw-${i}`, clock: { now: () => new Date(CLOSED.getTime() + 3600_000) }, rateLimiter: { take: () => ({ ok: true }) } }));
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all(pages.map((p) => p.stop()));
    for (const db of pools) await db.close();
    await server?.stop();
  });

  const post = (url: string, grade: string) =>
    fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grade }).toString() }).then((r) => r.status);

  async function receipt(caseNos: string[]): Promise<string> {
    const id = uuidv7();
    await storeInvitation(pools[0]!, terminal, { id, closedAt: CLOSED, services: caseNos.map((caseNo) => ({ ...FOOD, caseNo })) });
    return receiptUrl(`${pages[0]!.url}/rate`, terminal, { invitationId: id, caseNos, issuedAt: CLOSED });
  }
  const on = (url: string, i: number) => url.replace(pages[0]!.url, pages[i]!.url);

  it('shows the stored service (jsonb and timestamps read through pg) and stores each receipt once across three instances', async () => {
    const urls = await Promise.all(Array.from({ length: RECEIPTS }, (_, i) => receipt([`PG-${String(i).padStart(3, '0')}`])));
    const page = await (await fetch(on(urls[0]!, 1))).text();
    expect(page).toContain('食品经营许可（330106-XK-0012）');
    expect(page).toContain('2026年11月22日');
    const answers = await Promise.all(urls.flatMap((url) => [0, 1, 2].map((i) => post(on(url, i), ['satisfied', 'dissatisfied', 'very_satisfied'][i]!))));
    for (let r = 0; r < RECEIPTS; r += 1) expect(answers.slice(r * 3, r * 3 + 3).sort()).toEqual([303, 409, 409]);
    const { rows } = await pools[0]!.query<{ n: number }>("SELECT count(*)::int AS n FROM later_ratings WHERE case_no LIKE 'PG-%'");
    expect(rows[0]!.n).toBe(RECEIPTS);
  });

  it('two batch receipts sharing a case, submitted at once: one stores all its cases, the other none', async () => {
    for (let round = 0; round < 10; round += 1) {
      const a = await receipt([`B${round}-1`, `B${round}-shared`]);
      const b = await receipt([`B${round}-shared`, `B${round}-2`]);
      const answers = await Promise.all([post(on(a, round % 3), 'satisfied'), post(on(b, (round + 1) % 3), 'dissatisfied')]);
      expect([...answers].sort()).toEqual([303, 409]);
      const [grade, own] = answers[0] === 303 ? ['satisfied', `B${round}-1`] : ['dissatisfied', `B${round}-2`];
      const { rows } = await pools[0]!.query<{ case_no: string; grade: string }>('SELECT case_no, grade FROM later_ratings WHERE case_no LIKE $1 ORDER BY case_no', [`B${round}-%`]);
      expect(rows).toEqual([
        { case_no: own, grade },
        { case_no: `B${round}-shared`, grade },
      ]);
    }
  });
});
