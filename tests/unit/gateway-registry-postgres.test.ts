import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../gateway/db/migrate.js';
import { PostgresDatabase } from '../../gateway/db/postgres.js';
import type { Publisher } from '../../gateway/ports.js';
import { TerminalRegistry } from '../../gateway/registry/terminal-registry.js';
import { postgresTestsRun, startPostgres, warnPostgresSkipped, type TestPostgres } from '../support/postgres-server.js';

/**
 * The registry's writes racing for real: three instances, each with its own pool on one
 * PostgreSQL (Debian's, started here), read the same retained states at the same time, as every
 * instance does. Each terminal is made once, approved once (first-key), configured once, and
 * left as its newest state says; two operators approving at once: one approval, one refusal.
 */
const runPostgres = postgresTestsRun();
if (!runPostgres) warnPostgresSkipped();

const PREFIX = 'hcp/v1';
const TERMINALS = 40;
const newKey = (): string => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

describe.skipIf(!runPostgres)('TerminalRegistry on PostgreSQL, three instances at once', () => {
  let server: TestPostgres;
  const pools: PostgresDatabase[] = [];

  beforeAll(async () => {
    server = await startPostgres();
    for (let i = 0; i < 3; i += 1) pools.push(await PostgresDatabase.open(server.url, { poolSize: 4 }));
    await Promise.all(pools.map((db) => migrate(db)));
  }, 60_000);
  afterAll(async () => {
    for (const db of pools) await db.close();
    await server?.stop();
  });

  it('the same states read by three instances at once: one row, one first-key approval and one config per terminal, the newest state kept', async () => {
    const published: string[] = [];
    const publisher: Publisher = { publish: async (topic) => void published.push(topic) };
    const registries = pools.map(
      (db) => new TerminalRegistry({ db, publisher, prefix: PREFIX, clock: { now: () => new Date('2026-11-30T08:00:00Z') }, logger: pino({ level: 'silent' }), approval: 'first-key', terminalConfig: () => ({}) }),
    );
    const keys = Array.from({ length: TERMINALS }, newKey);
    const messages = keys.flatMap((key, i) => [
      [`${PREFIX}/P-${i}/state`, { online: true, at: '2026-11-30T07:00:00Z', publicKey: key }],
      [`${PREFIX}/P-${i}/state`, { online: false }],
      [`${PREFIX}/P-${i}/state`, { online: true, at: '2026-11-30T07:30:00Z', publicKey: key }],
    ] as const);
    // Each instance in its own order of terminals (one terminal's states stay in order, as a topic's do).
    registries.forEach((registry, r) => {
      const order = [...keys.keys()].sort((a, b) => ((a * (r + 7)) % TERMINALS) - ((b * (r + 7)) % TERMINALS));
      for (const i of order) for (const [topic, body] of messages.slice(i * 3, i * 3 + 3)) registry.receiveState(topic, Buffer.from(JSON.stringify(body)));
    });
    await Promise.all(registries.map((registry) => registry.idle()));

    for (const registry of registries) expect(registry.stats().dbFailures).toBe(0);
    const db = pools[0]!;
    const { rows } = await db.query<{ n: number; approved: number; online: number; newest: number }>(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'approved')::int AS approved, count(*) FILTER (WHERE online)::int AS online, count(*) FILTER (WHERE state_at = '2026-11-30T07:30:00Z')::int AS newest FROM terminals",
    );
    expect(rows[0]).toEqual({ n: TERMINALS, approved: TERMINALS, online: TERMINALS, newest: TERMINALS });
    const approvals = await db.query<{ terminal_id: string; n: number }>("SELECT terminal_id, count(*)::int AS n FROM operator_actions WHERE action = 'approve' GROUP BY terminal_id");
    expect(approvals.rows).toHaveLength(TERMINALS);
    expect(approvals.rows.every((row) => row.n === 1)).toBe(true);
    expect(published).toHaveLength(TERMINALS);
    expect(new Set(published).size).toBe(TERMINALS);
  });

  it('a roster applied by two instances at once (a fleet start): each terminal approved once, in statements of many rows', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'hcp-roster-pg-'));
    const path = join(folder, 'roster.json');
    const key = newKey();
    writeFileSync(path, JSON.stringify({ terminals: Array.from({ length: 1500 }, (_, i) => ({ terminalId: `R-${i}`, publicKey: key, areaCode: '330106', hallCode: 'H1', windowNo: String(i % 9) })) }));
    const registries = pools.slice(0, 2).map((db) => new TerminalRegistry({ db, publisher: { publish: async () => undefined }, prefix: PREFIX, clock: { now: () => new Date() }, logger: pino({ level: 'silent' }), approval: 'manual', terminalConfig: () => undefined }));
    const summaries = await Promise.all(registries.map((registry) => registry.applyRoster(path)));
    expect(summaries.map((s) => s.added.length + s.unchanged).sort()).toEqual([1500, 1500]);
    expect(summaries[0]!.added.length + summaries[1]!.added.length).toBe(1500);
    const { rows } = await pools[0]!.query<{ n: number; actions: number }>(
      "SELECT (SELECT count(*)::int FROM terminals WHERE terminal_id LIKE 'R-%' AND status = 'approved' AND window_no IS NOT NULL) AS n, (SELECT count(*)::int FROM operator_actions WHERE actor = 'roster') AS actions",
    );
    expect(rows[0]).toEqual({ n: 1500, actions: 1500 });
  });

  it('two operators approving the same pending key at once: one approval, one conflict', async () => {
    const publisher: Publisher = { publish: async () => undefined };
    const [a, b] = pools.map((db) => new TerminalRegistry({ db, publisher, prefix: PREFIX, clock: { now: () => new Date() }, logger: pino({ level: 'silent' }), approval: 'manual', terminalConfig: () => undefined }));
    a!.receiveState(`${PREFIX}/Q-1/state`, Buffer.from(JSON.stringify({ online: true, at: new Date().toISOString(), publicKey: newKey() })));
    await a!.idle();
    const results = await Promise.allSettled([a!.approve('Q-1', { actor: 'one' }), b!.approve('Q-1', { actor: 'two' })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'conflict' } });
    const { rows } = await pools[0]!.query<{ n: number }>("SELECT count(*)::int AS n FROM operator_actions WHERE terminal_id = 'Q-1'");
    expect(rows[0]?.n).toBe(1);
  });
});
