import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gatewayDeliveriesCommand, gatewayDeliveriesRetryCommand, parseDeliveryKey } from '../../cli/gateway-deliveries.js';
import { provinceKeygenCommand } from '../../cli/gateway-province.js';
import { migrate } from '../../gateway/db/migrate.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { openTestPglite } from '../support/pglite-template.js';
import { startAdminHttp, type AdminHttp } from '../../gateway/http/admin-http.js';
import { sm2PublicKeyOf } from '../../gateway/province/sm2.js';
import { TerminalRegistry } from '../../gateway/registry/terminal-registry.js';

/** `hcp gateway deliveries [retry]` and `province keygen` against the real admin API on PGlite. */

const TOKEN = 'deliveries-cli-token';
const ID = '0193f5a0-0000-7000-8000-0000000000a1';
let db: PgliteDatabase;
let api: AdminHttp;
const dir = mkdtempSync(join(tmpdir(), 'hcp-deliveries-cli-'));

beforeAll(async () => {
  db = await openTestPglite();
  await migrate(db);
  const registry = new TerminalRegistry({ db, publisher: { publish: async () => undefined }, prefix: 'hcp/v1', clock: { now: () => new Date() }, logger: pino({ level: 'silent' }), approval: 'manual', terminalConfig: () => undefined });
  api = await startAdminHttp({ host: '127.0.0.1', port: 0, token: TOKEN, registry, db, status: async () => ({}) });
}, 30_000);
afterAll(async () => {
  await api.stop();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await db.exec('TRUNCATE deliveries, operator_actions');
  await db.query(
    `INSERT INTO deliveries (source, id, case_no, terminal_id, state, rejected_phase, code, last_error, due_at, created_at, updated_at)
     VALUES ('record', $1, 'C/7', 'T-1', 'rejected', 'service', '40001', '区划代码不存在', now(), now(), now())`,
    [ID],
  );
});
afterEach(() => {
  process.exitCode = undefined;
});

function run(): { deps: { print: (t: string) => void; printError: (t: string) => void; env: NodeJS.ProcessEnv }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { deps: { print: (t) => out.push(t), printError: (t) => err.push(t), env: { HCP_GATEWAY_TOKEN: TOKEN } }, out, err };
}

describe('delivery keys on the command line', () => {
  it('reads source/id/case, the case number keeping its own slashes; refuses anything else, saying the form', () => {
    expect(parseDeliveryKey(`record/${ID}/C/7`)).toEqual({ source: 'record', id: ID, caseNo: 'C/7' });
    expect(parseDeliveryKey(`later/${ID}/X`)).toEqual({ source: 'later', id: ID, caseNo: 'X' });
    for (const bad of ['', 'record', `record/${ID}`, `record/${ID}/`, `other/${ID}/C`, `/${ID}/C`]) {
      expect(() => parseDeliveryKey(bad), bad).toThrow(/expected record\/<id>\/<case number>/);
    }
  });
});

describe('hcp gateway deliveries', () => {
  it('lists the refused ones with the province’s code and message, and the key retry takes', async () => {
    const { deps, out } = run();
    await gatewayDeliveriesCommand({ url: api.url, state: 'rejected' }, deps);
    expect(process.exitCode).toBeUndefined();
    expect(out[0]).toContain('rejected 1');
    expect(out[0]).toContain(`record/${ID}/C/7`);
    expect(out[0]).toContain('40001 区划代码不存在');
    expect(out[0]).toContain('rejected (service)');
  });

  it('a state the API does not know is refused in one line with exit status 1', async () => {
    const { deps, err } = run();
    await gatewayDeliveriesCommand({ url: api.url, state: 'lost' }, deps);
    expect(process.exitCode).toBe(1);
    expect(err).toEqual([expect.stringMatching(/^hcp gateway deliveries: the query is invalid\n {2}- state: /)]);
  });

  it('retry by key puts the row back once and names what was not rejected; an operator action is recorded', async () => {
    const first = run();
    await gatewayDeliveriesRetryCommand([`record/${ID}/C/7`], { url: api.url, operator: 'li' }, first.deps);
    expect(first.out).toEqual(['sent again from the refused phase: 1']);
    const again = run();
    await gatewayDeliveriesRetryCommand([`record/${ID}/C/7`], { url: api.url }, again.deps);
    expect(again.out).toEqual([`sent again from the refused phase: 0\nnot rejected (left as they are): record/${ID}/C/7`]);
    const { rows } = await db.query<{ state: string }>('SELECT state FROM deliveries');
    expect(rows).toEqual([{ state: 'service' }]);
    const actions = await db.query<{ actor: string; action: string }>('SELECT actor, action FROM operator_actions');
    expect(actions.rows).toEqual([{ actor: 'admin-api:li', action: 'delivery_retry' }]);
  });

  it('--rejected retries every refused one; with none left it says so; keys and --rejected together, or neither, are refused', async () => {
    const all = run();
    await gatewayDeliveriesRetryCommand([], { url: api.url, rejected: true }, all.deps);
    expect(all.out).toEqual(['sent again from the refused phase: 1']);
    const none = run();
    await gatewayDeliveriesRetryCommand([], { url: api.url, rejected: true }, none.deps);
    expect(none.out).toEqual(['no rejected deliveries']);
    const both = run();
    await gatewayDeliveriesRetryCommand([`record/${ID}/C/7`], { url: api.url, rejected: true }, both.deps);
    expect(both.err).toEqual(['hcp gateway deliveries retry: give delivery keys or --rejected, not both']);
    const neither = run();
    await gatewayDeliveriesRetryCommand([], { url: api.url }, neither.deps);
    expect(neither.err[0]).toMatch(/^hcp gateway deliveries retry: name the deliveries to send again/);
    expect(process.exitCode).toBe(1);
  });

  it('retry without the operator token is refused by the API and changes nothing', async () => {
    const { deps, err } = run();
    await gatewayDeliveriesRetryCommand([`record/${ID}/C/7`], { url: api.url }, { ...deps, env: {} });
    expect(err[0]).toMatch(/need the operator token/);
    expect((await db.query<{ state: string }>('SELECT state FROM deliveries')).rows).toEqual([{ state: 'rejected' }]);
  });
});

describe('hcp gateway province keygen', () => {
  it('writes a new private key (mode 600) whose public key it prints; never overwrites one', () => {
    const out: string[] = [];
    const err: string[] = [];
    const file = join(dir, 'sm2.hex');
    provinceKeygenCommand({ out: file }, (t) => out.push(t), (t) => err.push(t));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const publicKey = sm2PublicKeyOf(readFileSync(file, 'utf8').trim());
    expect(out.join('\n')).toContain(publicKey);
    provinceKeygenCommand({ out: file }, (t) => out.push(t), (t) => err.push(t));
    expect(err).toEqual([expect.stringMatching(/^hcp gateway province keygen: .* exists/)]);
    expect(sm2PublicKeyOf(readFileSync(file, 'utf8').trim())).toBe(publicKey);
    expect(process.exitCode).toBe(1);
  });
});
