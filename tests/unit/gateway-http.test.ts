import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  formatStatus,
  gatewayRefusalsCommand,
  gatewayStatusCommand,
  gatewayTerminalsApproveCommand,
  gatewayTerminalsListCommand,
  gatewayTerminalsRevokeCommand,
  gatewayTerminalsShowCommand,
  type AdminDeps,
} from '../../cli/gateway-admin.js';
import { DatabaseUnavailable } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { openTestPglite } from '../support/pglite-template.js';
import { startAdminHttp, type AdminHttp } from '../../gateway/http/admin-http.js';
import type { Publisher } from '../../gateway/ports.js';
import { shortFingerprint } from '../../gateway/registry/key-fingerprint.js';
import { TerminalRegistry } from '../../gateway/registry/terminal-registry.js';

/**
 * The admin API over real HTTP, on a real registry (in-memory PostgreSQL): its routes, the token
 * writes need, and refusals `{error, problems}` that say what and where.
 */

const TOKEN = 'operator-token-0123456789';
const PREFIX = 'hcp/v1';
const newKey = (): string => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const silent = pino({ level: 'silent' });
const published: string[] = [];
const publisher: Publisher = { publish: async (topic) => void published.push(topic) };

let db: PgliteDatabase;
let registry: TerminalRegistry;
let api: AdminHttp;

beforeAll(async () => {
  db = await openTestPglite();
  await migrate(db);
  registry = new TerminalRegistry({ db, publisher, prefix: PREFIX, clock: { now: () => new Date() }, logger: silent, approval: 'manual', terminalConfig: () => ({ reasonCatalog: { version: '1', reasons: [{ code: 'R01', label: 'x' }] } }) });
  api = await startAdminHttp({ host: '127.0.0.1', port: 0, token: TOKEN, registry, db, status: async () => ({ instance: 'gw-test', ingest: { received: 0 } }), logger: silent });
});
afterAll(async () => {
  await api.stop();
  await db.close();
});
beforeEach(async () => {
  await db.exec('TRUNCATE terminals, records, chain_links, operator_actions, instances, refusals CASCADE');
  published.length = 0;
});

async function call(method: string, path: string, { body, token, headers = {} }: { body?: string | object; token?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }), ...headers },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function pendingTerminal(id: string): Promise<string> {
  const key = newKey();
  registry.receiveState(`${PREFIX}/${id}/state`, Buffer.from(JSON.stringify({ online: true, at: new Date().toISOString(), publicKey: key })));
  await registry.idle();
  return key;
}

describe('admin API', () => {
  it('listens on loopback and answers GET /api/v1/status with this instance and the instances table', async () => {
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await db.query("INSERT INTO instances (instance, started_at, beat_at, stats) VALUES ('gw-old', now() - interval '1 hour', now() - interval '1 hour', '{}')");
    const { status, json } = await call('GET', '/api/v1/status');
    expect(status).toBe(200);
    expect(json.instance).toEqual({ instance: 'gw-test', ingest: { received: 0 } });
    expect(json.instances).toMatchObject([{ instance: 'gw-old', stale: true }]);
  });

  it('lists terminals (filtered by status) and shows one; an unknown one is 404, a bad id 400', async () => {
    const key = await pendingTerminal('T-1');
    const list = await call('GET', '/api/v1/terminals');
    expect(list.status).toBe(200);
    expect(list.json.terminals).toMatchObject([{ terminalId: 'T-1', status: 'pending', pendingKeyFingerprint: shortFingerprint(key) }]);
    expect((await call('GET', '/api/v1/terminals?status=approved')).json.terminals).toEqual([]);
    expect(await call('GET', '/api/v1/terminals?status=gone')).toMatchObject({ status: 400, json: { error: 'the query is invalid', problems: [expect.stringMatching(/^status: /)] } });
    expect(await call('GET', '/api/v1/terminals/T-1')).toMatchObject({ status: 200, json: { terminalId: 'T-1', pendingKey: key } });
    expect(await call('GET', '/api/v1/terminals/T-2')).toMatchObject({ status: 404, json: { error: expect.stringContaining('T-2') } });
    expect(await call('GET', '/api/v1/terminals/a%20b')).toMatchObject({ status: 400, json: { problems: [expect.stringMatching(/^path: terminal id/)] } });
    expect(await call('GET', '/api/v1/terminals/%E0%A4%A')).toMatchObject({ status: 400 });
  });

  it('approve needs the token, checks the key the operator saw, and records the operator named in X-HCP-Operator', async () => {
    const key = await pendingTerminal('T-1');
    expect(await call('POST', '/api/v1/terminals/T-1/approve', { body: {} })).toMatchObject({ status: 401, json: { error: expect.stringContaining('Authorization: Bearer') } });
    expect(await call('POST', '/api/v1/terminals/T-1/approve', { body: {}, token: 'wrong' })).toMatchObject({ status: 401 });
    expect(await call('POST', '/api/v1/terminals/T-1/approve', { body: { key: 'deadbeefdeadbeef' }, token: TOKEN })).toMatchObject({ status: 409, json: { error: expect.stringContaining('does not name the key') } });
    expect((await registry.get('T-1'))?.status).toBe('pending');
    const ok = await call('POST', '/api/v1/terminals/T-1/approve', { body: { key: shortFingerprint(key) }, token: TOKEN, headers: { 'x-hcp-operator': 'li.wei <script>' } });
    expect(ok).toMatchObject({ status: 200, json: { approvedKey: shortFingerprint(key), configPublished: true, terminal: { status: 'approved', decidedBy: 'admin-api:li.weiscript' } } });
    expect(published).toEqual([`${PREFIX}/T-1/config`]);
    expect(await call('POST', '/api/v1/terminals/T-1/approve', { body: {}, token: TOKEN })).toMatchObject({ status: 409, json: { error: expect.stringContaining('nothing to approve') } });
    expect(await call('POST', '/api/v1/terminals/T-9/approve', { body: {}, token: TOKEN })).toMatchObject({ status: 404 });
    const { rows } = await db.query<{ actor: string }>('SELECT actor FROM operator_actions');
    expect(rows).toEqual([{ actor: 'admin-api:li.weiscript' }]);
  });

  it('an empty approve body is {}; but never without content-type JSON (a form on another page cannot approve)', async () => {
    await pendingTerminal('T-1');
    const form = await fetch(`${api.url}/api/v1/terminals/T-1/approve`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    expect((await registry.get('T-1'))?.status).toBe('pending');
    const empty = await fetch(`${api.url}/api/v1/terminals/T-1/approve`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
    expect(empty.status).toBe(200);
  });

  it('revoke needs a reason; bad bodies are refused with what and where', async () => {
    await pendingTerminal('T-1');
    expect(await call('POST', '/api/v1/terminals/T-1/revoke', { body: {}, token: TOKEN })).toMatchObject({ status: 400, json: { error: 'the body is invalid', problems: [expect.stringMatching(/^reason: required/)] } });
    expect(await call('POST', '/api/v1/terminals/T-1/revoke', { body: { reason: '  ' }, token: TOKEN })).toMatchObject({ status: 400, json: { problems: [expect.stringMatching(/^reason: say why/)] } });
    expect(await call('POST', '/api/v1/terminals/T-1/revoke', { body: { reason: 'x', extra: 1 }, token: TOKEN })).toMatchObject({ status: 400 });
    expect(await call('POST', '/api/v1/terminals/T-1/revoke', { body: '{"reason":', token: TOKEN })).toMatchObject({ status: 400, json: { error: 'the body is not valid JSON' } });
    expect(await call('POST', '/api/v1/terminals/T-1/approve', { body: { key: 5 }, token: TOKEN })).toMatchObject({ status: 400, json: { problems: [expect.stringMatching(/^key: /)] } });
    expect(await call('POST', '/api/v1/terminals/T-1/revoke', { body: `{"reason":"${'x'.repeat(20_000)}"}`, token: TOKEN })).toMatchObject({ status: 413 });
    expect((await registry.get('T-1'))?.status).toBe('pending');
    expect(await call('POST', '/api/v1/terminals/T-1/revoke', { body: { reason: 'stolen' }, token: TOKEN })).toMatchObject({ status: 200, json: { terminal: { status: 'revoked' } } });
  });

  it('lists refusals newest first, filtered by terminal and disposition, bounded by limit', async () => {
    const insert = (id: string, terminal: string, disposition: string, minutesAgo: number) =>
      db.query(
        "INSERT INTO refusals (id, terminal_id, disposition, verdict, reason, payload, first_at, last_at) VALUES ($1, $2, $3, 'bad_signature', 'why', $4, now() - make_interval(mins => $5), now() - make_interval(mins => $5))",
        [id, terminal, disposition, 'p'.repeat(2000), minutesAgo],
      );
    await insert('r1', 'T-1', 'rejected', 3);
    await insert('r2', 'T-1', 'held', 2);
    await insert('r3', 'T-2', 'rejected', 1);
    const all = await call('GET', '/api/v1/refusals');
    expect((all.json.refusals as { id: string }[]).map((r) => r.id)).toEqual(['r3', 'r2', 'r1']);
    expect((all.json.refusals as { payload: string }[])[0]?.payload).toHaveLength(500);
    expect((await call('GET', '/api/v1/refusals?terminal=T-1&disposition=rejected')).json.refusals).toMatchObject([{ id: 'r1', terminalId: 'T-1', attempts: 1 }]);
    expect(((await call('GET', '/api/v1/refusals?limit=1')).json.refusals as unknown[]).length).toBe(1);
    await db.query("UPDATE refusals SET resolved_at = now() WHERE id = 'r2'");
    expect(((await call('GET', '/api/v1/refusals?open=true')).json.refusals as { id: string }[]).map((r) => r.id)).toEqual(['r3', 'r1']);
    expect((await call('GET', '/api/v1/refusals?open=false')).json.refusals).toMatchObject([{ id: 'r2', resolvedAt: expect.any(String) }]);
    for (const query of ['open=yes', 'limit=0', 'limit=1001', 'limit=x', 'disposition=other', 'terminal=a%20b', 'colour=red', 'limit=1&limit=2']) {
      expect(await call('GET', `/api/v1/refusals?${query}`), query).toMatchObject({ status: 400, json: { problems: [expect.any(String)] } });
    }
  });

  it('unknown paths are 404, wrong methods 405, and a Host that is not its own 421 (DNS rebinding)', async () => {
    expect(await call('GET', '/api/v1/nothing')).toMatchObject({ status: 404, json: { error: 'no such endpoint: /api/v1/nothing', problems: [] } });
    expect(await call('DELETE', '/api/v1/terminals/T-1')).toMatchObject({ status: 405 });
    expect(await call('GET', '/api/v1/terminals/T-1/approve')).toMatchObject({ status: 405 });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${api.url}/api/v1/status`, { headers: { host: 'evil.example:80' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
  });

  it('a database that does not answer is 503 with what to check; any other failure 500 without its details', async () => {
    const failing = (err: Error) => ({ list: () => Promise.reject(err), get: () => Promise.reject(err), approve: () => Promise.reject(err), revoke: () => Promise.reject(err) });
    const unavailable = new DatabaseUnavailable('PostgreSQL at db:5432/hcp refused the connection: is it running?');
    const downDb = { ...db, query: () => Promise.reject(unavailable) } as unknown as PgliteDatabase;
    const down = await startAdminHttp({ host: '127.0.0.1', port: 0, token: undefined, registry: failing(unavailable), db: downDb, status: async () => ({ instance: 'gw-x' }) });
    const broken = await startAdminHttp({ host: '127.0.0.1', port: 0, token: undefined, registry: failing(new Error('secret detail')), db, status: async () => ({}) });
    try {
      const a = await fetch(`${down.url}/api/v1/terminals`);
      expect(a.status).toBe(503);
      expect(await a.json()).toEqual({ error: 'the database is not answering: PostgreSQL at db:5432/hcp refused the connection: is it running?', problems: [] });
      // The status still answers: that is when it is wanted.
      const status = await fetch(`${down.url}/api/v1/status`);
      expect(await status.json()).toEqual({ instance: { instance: 'gw-x' }, instances: null, instancesError: unavailable.message });
      const printed: string[] = [];
      await gatewayStatusCommand({ url: down.url }, { print: (t) => printed.push(t) });
      expect(printed.join('\n')).toContain(`instances      unknown: ${unavailable.message}`);
      const b = await fetch(`${broken.url}/api/v1/terminals/T-1`);
      expect(b.status).toBe(500);
      expect(await b.text()).not.toContain('secret detail');
    } finally {
      await down.stop();
      await broken.stop();
    }
  });

  it('a port in use is refused as a setting to fix', async () => {
    const port = Number(new URL(api.url).port);
    await expect(startAdminHttp({ host: '127.0.0.1', port, token: undefined, registry, db, status: async () => ({}) })).rejects.toThrow(/http\.port: 127\.0\.0\.1:\d+ is in use/);
  });
});

describe('hcp gateway CLI against the admin API', () => {
  /** Runs a command, capturing what it prints and its exit status. */
  async function cli(command: (deps: AdminDeps) => Promise<void>, env: NodeJS.ProcessEnv = {}): Promise<{ out: string; err: string; exitCode: number }> {
    const out: string[] = [];
    const err: string[] = [];
    process.exitCode = 0;
    await command({ print: (t) => out.push(t), printError: (t) => err.push(t), env });
    const exitCode = Number(process.exitCode ?? 0);
    process.exitCode = 0;
    return { out: out.join('\n'), err: err.join('\n'), exitCode };
  }

  it('status names the dashboard and how alerts are sent, a failing channel with its error', () => {
    const instance = {
      instance: 'gw-1',
      dashboard: { url: 'http://127.0.0.1:8472', publicUrl: 'https://hall.example/dashboard/' },
      alerts: {
        notifier: { running: true, channels: [{ name: '值班群', sent: 4, failed: 0, lastError: null }, { name: 'dingtalk', sent: 1, failed: 2, lastError: { message: 'errcode 310000: sign not match' } }] },
        faultScans: { failures: 0 },
      },
    };
    const text = formatStatus({ instance, instances: [] }, 'http://127.0.0.1:8470');
    expect(text).toContain('  dashboard      http://127.0.0.1:8472 (managers reach it at https://hall.example/dashboard/)');
    expect(text).toContain('  alerts         sending to 值班群 4 sent; dingtalk 1 sent, 2 FAILED (errcode 310000: sign not match)');
    const quiet = formatStatus({ instance: { instance: 'gw-2', alerts: { notifier: { running: false, channels: [] }, faultScans: { failures: 3 } } }, instances: [] }, 'http://127.0.0.1:8470');
    expect(quiet).not.toMatch(/^ {2}dashboard /m);
    expect(quiet).toContain('  alerts         no channels: shown on the dashboard only; fault scans failed 3 times');
  });

  it('status, terminals list/show, approve, revoke and refusals, by --url and the token from HCP_GATEWAY_TOKEN', async () => {
    const key = await pendingTerminal('T-1');
    const url = api.url;
    const status = await cli((d) => gatewayStatusCommand({ url }, d));
    expect(status.out).toContain(`hcp gateway status: ${url}`);
    expect(status.out).toContain('this instance  gw-test');
    const list = await cli((d) => gatewayTerminalsListCommand({ url }, d));
    expect(list.out).toMatch(new RegExp(`^T-1\\s+pending\\s+online\\s+-\\s+-\\s+${shortFingerprint(key)}`, 'm'));
    expect(list.out).toContain('hcp gateway terminals approve <id> --key');
    expect(JSON.parse((await cli((d) => gatewayTerminalsListCommand({ url, json: true, status: 'pending' }, d))).out)).toMatchObject([{ terminalId: 'T-1' }]);
    expect((await cli((d) => gatewayTerminalsShowCommand('T-1', { url }, d))).out).toMatch(/pending key\s+\S+ {2}MCow.*waits for approve/);

    const refused = await cli((d) => gatewayTerminalsApproveCommand('T-1', { url, key: shortFingerprint(key) }, d));
    expect(refused).toMatchObject({ exitCode: 1, out: '' });
    expect(refused.err).toMatch(/^hcp gateway terminals approve: changes \(approve, revoke, retry\) need the operator token.*HCP_GATEWAY_TOKEN/);
    const approved = await cli((d) => gatewayTerminalsApproveCommand('T-1', { url, key: shortFingerprint(key), operator: 'li' }, d), { HCP_GATEWAY_TOKEN: TOKEN });
    expect(approved).toMatchObject({ exitCode: 0, out: `approved terminal T-1 with key ${shortFingerprint(key)}; its config is published` });
    expect((await registry.get('T-1'))?.decidedBy).toBe('admin-api:li');

    const noReason = await cli((d) => gatewayTerminalsRevokeCommand('T-1', { url, reason: '' }, d), { HCP_GATEWAY_TOKEN: TOKEN });
    expect(noReason.err).toMatch(/the body is invalid\n {2}- reason: /);
    const revoked = await cli((d) => gatewayTerminalsRevokeCommand('T-1', { url, reason: 'stolen' }, d), { HCP_GATEWAY_TOKEN: TOKEN });
    expect(revoked.out).toMatch(/^revoked terminal T-1/);
    expect((await cli((d) => gatewayRefusalsCommand({ url, terminal: 'T-1', limit: 5 }, d))).out).toBe('no refusals');
    expect((await cli((d) => gatewayRefusalsCommand({ url, limit: 0 }, d))).err).toMatch(/limit: /);
  });

  it('finds the API and the token from the gateway config (http.port, http.tokenFile)', async () => {
    await pendingTerminal('T-1');
    const folder = mkdtempSync(join(tmpdir(), 'hcp-gw-cli-'));
    const tokenFile = join(folder, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    chmodSync(tokenFile, 0o600);
    const config = join(folder, 'gateway.yaml');
    writeFileSync(config, `mqtt:\n  url: mqtt://127.0.0.1:1883\ndatabase:\n  dataDir: ${folder}/db\nhttp:\n  host: 0.0.0.0\n  port: ${new URL(api.url).port}\n  tokenFile: ${tokenFile}\n`);
    expect((await cli((d) => gatewayTerminalsApproveCommand('T-1', { config }, d))).out).toMatch(/^approved terminal T-1/);
    chmodSync(tokenFile, 0o644);
    await registry.revoke('T-1', { actor: 'test', reason: 'again' });
    expect((await cli((d) => gatewayTerminalsApproveCommand('T-1', { config }, d))).err).toMatch(/cannot read the operator token in .*token \(http\.tokenFile of .*gateway\.yaml\): other users may read it/);
  });

  it('says plainly when no gateway answers', async () => {
    const result = await cli((d) => gatewayStatusCommand({ url: 'http://127.0.0.1:1' }, d));
    expect(result).toMatchObject({ exitCode: 1, err: 'hcp gateway status: no gateway answers at http://127.0.0.1:1: is `hcp gateway` running? (`systemctl status hcp-gateway`)' });
  });
});
