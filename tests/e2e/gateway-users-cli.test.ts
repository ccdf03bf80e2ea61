import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gatewayUsersAddCommand, gatewayUsersListCommand, gatewayUsersPasswdCommand, gatewayUsersRemoveCommand, gatewayUsersSetDisabledCommand, type UsersDeps } from '../../cli/gateway-users.js';
import { Sessions } from '../../gateway/accounts/sessions.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import type { AdminHttp } from '../../gateway/http/admin-http.js';
import { waitUntil } from '../../simulator/wait.js';
import { hcp } from '../support/run-hcp.js';
import { startUsersApi } from '../unit/accounts-fixture.js';

/**
 * `hcp gateway users …` against the real admin API on PGlite: accounts added with the password
 * piped in or typed twice at a terminal (a real pty, echo off), changed, disabled, removed; a
 * sign-in with the password as given; and neither the gateway's log nor any output repeating it.
 */
const TOKEN = 'users-cli-operator-token';
const PASSWORD = '王经理的 password 1';
const SECOND = 'second password 22';
let db: PgliteDatabase;
let api: AdminHttp;
/** Every line the admin API logged, at every level. */
const logged: string[] = [];

beforeAll(async () => {
  ({ db, api } = await startUsersApi(TOKEN, pino({ level: 'trace' }, { write: (line: string) => void logged.push(line) })));
}, 60_000);
afterAll(async () => {
  await api.stop();
  await db.close();
  // Nothing the API logged, across every test here, holds a password given to it.
  for (const secret of [PASSWORD, SECOND, 'first typed password', 'the password typed']) expect(logged.join('\n')).not.toContain(secret);
});
beforeEach(async () => {
  await db.exec('TRUNCATE users CASCADE; TRUNCATE operator_actions');
});
afterEach(() => {
  process.exitCode = undefined;
});

interface Captured {
  deps: UsersDeps & { print: (t: string) => void; printError: (t: string) => void };
  out: string[];
  err: string[];
  prompts: PassThrough;
}

/** Deps that capture what is printed; stdin a pipe holding `input`, or the given stream. */
function capture(stdin: UsersDeps['stdin'] = Readable.from([]), env: NodeJS.ProcessEnv = { HCP_GATEWAY_TOKEN: TOKEN }): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const prompts = new PassThrough();
  return { deps: { print: (t) => out.push(t), printError: (t) => err.push(t), env, stdin, prompt: prompts }, out, err, prompts };
}
const piped = (text: string): Readable => Readable.from([Buffer.from(text)]);
const sessions = (): Sessions => new Sessions({ db, clock: { now: () => new Date() }, sessionHours: 12 });
const county = { url: '', role: 'county', area: '330106', name: '王经理' };
const usersRows = async (): Promise<unknown[]> => (await db.query('SELECT username, disabled FROM users ORDER BY username')).rows;

/** A stdin that says it is a terminal, as readline sees one (raw mode switched by readline itself). */
function fakeTty(): PassThrough & { isTTY: true; setRawMode: (on: boolean) => void; raw: boolean[] } {
  const raw: boolean[] = [];
  return Object.assign(new PassThrough(), { isTTY: true as const, setRawMode: (on: boolean) => void raw.push(on), raw });
}

describe('hcp gateway users, in process', () => {
  it('add --password-stdin, then list; the account signs in with the password exactly as piped (one line break dropped)', async () => {
    const add = capture(piped(`${PASSWORD}\n`));
    await gatewayUsersAddCommand('wang', { ...county, url: api.url, passwordStdin: true, operator: 'li' }, add.deps);
    expect(add.err).toEqual([]);
    expect(add.out).toEqual(['added wang: sees 县级 330106; signs in to the dashboard with the password just given']);
    const list = capture();
    await gatewayUsersListCommand({ url: api.url }, list.deps);
    expect(list.out[0]).toMatch(/^USER +NAME +SEES +STATE +LAST SIGN-IN +CREATED\nwang +王经理 +县级 330106 +enabled +never +\d{4}-\d\d-\d\d$/);
    const signIn = await sessions().signIn('wang', PASSWORD);
    expect(signIn).toMatchObject({ ok: true, user: { username: 'wang', scope: { role: 'county', areaPrefix: '330106', hallCode: null } } });
    const { rows } = await db.query<{ actor: string; action: string }>('SELECT actor, action FROM operator_actions');
    expect(rows).toEqual([{ actor: 'admin-api:li', action: 'user_add' }]);
    expect([...add.out, ...list.out].join()).not.toContain(PASSWORD);
  });

  it('add on a terminal asks twice with echo off (raw mode, nothing of it written back); two different ones change nothing', async () => {
    const tty = fakeTty();
    const add = capture(tty);
    let shown = '';
    add.prompts.on('data', (chunk: Buffer) => (shown += chunk.toString()));
    const done = gatewayUsersAddCommand('hall1', { url: api.url, role: 'hall', area: '330106', hall: '330106-ZWFW-01' }, add.deps);
    await waitUntil(() => shown.includes('new password for hall1: '), 'the first question');
    tty.write('the password typed\r');
    await waitUntil(() => shown.includes('the same again: '), 'the second question');
    tty.write('the password typed\r');
    await done;
    expect(add.err).toEqual([]);
    expect(add.out[0]).toBe('added hall1: sees 大厅 330106/330106-ZWFW-01; signs in to the dashboard with the password just given');
    expect(tty.raw[0]).toBe(true);
    expect(shown).not.toContain('the password typed');
    expect(shown).not.toContain('*');
    expect((await sessions().signIn('hall1', 'the password typed')).ok).toBe(true);

    const mismatch = fakeTty();
    const again = capture(mismatch);
    const refused = gatewayUsersAddCommand('hall2', { url: api.url, role: 'hall', area: '330106', hall: 'H2' }, again.deps);
    // Typed ahead, both at once: the second line is kept for the second question.
    mismatch.write('first typed password\rsecond typed password\r');
    await refused;
    expect(again.err).toEqual(['hcp gateway users add: the two passwords differ; nothing changed']);
    expect(await usersRows()).toEqual([{ username: 'hall1', disabled: false }]);
  });

  it('a scope that does not fit its level is refused by flag name before any password is read; a weak password by the policy', async () => {
    const stdin = piped(`${PASSWORD}\n`);
    const bad = capture(stdin);
    await gatewayUsersAddCommand('wang', { url: api.url, role: 'county', area: '3301', hall: 'H1', passwordStdin: true }, bad.deps);
    expect(bad.err).toEqual(['hcp gateway users add: refused, nothing changed:\n  - --area: a county account is bound to 6 digits of the area code, not 4\n  - --hall: a county account names no hall']);
    expect(stdin.readableEnded).toBe(false);
    const weak = capture(piped('short\n'));
    await gatewayUsersAddCommand('wang', { ...county, url: api.url, passwordStdin: true }, weak.deps);
    expect(weak.err).toEqual(['hcp gateway users add: the password is refused (at least 10 characters); nothing changed']);
    const twoLines = capture(piped(`${PASSWORD}\nmore\n`));
    await gatewayUsersAddCommand('wang', { ...county, url: api.url, passwordStdin: true }, twoLines.deps);
    expect(twoLines.err[0]).toMatch(/more than one line/);
    const notTty = capture(piped(`${PASSWORD}\n`));
    await gatewayUsersAddCommand('wang', { ...county, url: api.url }, notTty.deps);
    expect(notTty.err).toEqual(['hcp gateway users add: no terminal to ask the password on: pipe it in with --password-stdin']);
    const argv = capture();
    await gatewayUsersAddCommand('wang', { ...county, url: api.url, password: PASSWORD }, argv.deps);
    expect(argv.err[0]).toMatch(/^hcp gateway users add: --password is refused: a password on the command line is seen by every user/);
    expect([...bad.err, ...weak.err, ...twoLines.err, ...argv.err].join()).not.toContain(PASSWORD);
    expect(process.exitCode).toBe(1);
    expect(await usersRows()).toEqual([]);
  });

  it('passwd sets a new password and ends the sessions; disable, enable, remove; each in the operator log with its actor', async () => {
    await gatewayUsersAddCommand('wang', { ...county, url: api.url, passwordStdin: true }, capture(piped(PASSWORD)).deps);
    const open = await sessions().signIn('wang', PASSWORD);
    if (!open.ok) throw new Error(`refused: ${open.reason}`);
    const passwd = capture(piped(`${SECOND}\r\n`));
    await gatewayUsersPasswdCommand('wang', { url: api.url, passwordStdin: true, operator: 'li' }, passwd.deps);
    expect(passwd.out).toEqual(['new password set for wang; its sessions are ended (signed out everywhere), and a lock from wrong passwords is lifted']);
    expect(await sessions().authenticate(open.token)).toBeUndefined();
    expect((await sessions().signIn('wang', SECOND)).ok).toBe(true);

    const said: string[] = [];
    for (const action of ['disable', 'disable', 'enable'] as const) {
      const step = capture();
      await gatewayUsersSetDisabledCommand(action, 'wang', { url: api.url, operator: 'li' }, step.deps);
      said.push(...step.out);
    }
    expect(said).toEqual(['disabled wang: it cannot sign in, and its sessions are ended (undo: hcp gateway users enable wang)', 'wang was disabled already', 'enabled wang: it may sign in again']);
    const remove = capture();
    await gatewayUsersRemoveCommand('wang', { url: api.url, operator: 'li', json: true }, remove.deps);
    expect(JSON.parse(remove.out[0]!)).toEqual({ removed: 'wang' });
    const gone = capture();
    await gatewayUsersRemoveCommand('wang', { url: api.url }, gone.deps);
    expect(gone.err).toEqual(['hcp gateway users remove: no account is named wang']);
    const { rows } = await db.query<{ actor: string; action: string }>('SELECT actor, action FROM operator_actions ORDER BY at');
    expect(rows.map((r) => `${r.actor} ${r.action}`)).toEqual(['admin-api user_add', 'admin-api:li user_password', 'admin-api:li user_disable', 'admin-api:li user_enable', 'admin-api:li user_remove']);
  });

  it('without the operator token every change is refused by the API, and nothing changes', async () => {
    const add = capture(piped(PASSWORD), {});
    await gatewayUsersAddCommand('wang', { ...county, url: api.url, passwordStdin: true }, add.deps);
    expect(add.err[0]).toMatch(/^hcp gateway users add: changes to accounts need the operator token/);
    expect(await usersRows()).toEqual([]);
    await gatewayUsersAddCommand('wang', { ...county, url: api.url, passwordStdin: true }, capture(piped(PASSWORD)).deps);
    const disable = capture(undefined, {});
    await gatewayUsersSetDisabledCommand('disable', 'wang', { url: api.url }, disable.deps);
    expect(disable.err[0]).toMatch(/need the operator token/);
    expect(await usersRows()).toEqual([{ username: 'wang', disabled: false }]);
  });
});

describe('the users API itself', () => {
  const post = async (path: string, body: string, token = TOKEN): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${api.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
    return { status: res.status, text: await res.text() };
  };

  it('answers 201, 409, 404, 400 as the admin API does; a body it cannot read is refused without quoting it (it may hold a password)', async () => {
    const body = JSON.stringify({ username: 'wang', scope: { role: 'county', areaPrefix: '330106', hallCode: null }, password: PASSWORD });
    expect((await post('/api/v1/users', body)).status).toBe(201);
    expect(await post('/api/v1/users', body)).toMatchObject({ status: 409, text: expect.stringContaining('an account named wang exists already') });
    expect(await post('/api/v1/users/nobody/password', JSON.stringify({ password: SECOND }))).toMatchObject({ status: 404, text: expect.stringContaining('no account is named nobody') });
    expect(await post('/api/v1/users/Wang/disable', '{}')).toMatchObject({ status: 400, text: expect.stringContaining('the path does not name an account') });
    for (const broken of [`{"password":"${SECOND}"`, `{"password":"${SECOND}",}`, SECOND, `{"password": ${SECOND}}`, `{"password": "x" ${SECOND}}`]) {
      const answer = await post('/api/v1/users/wang/password', broken);
      expect(answer.status, broken).toBe(400);
      expect(JSON.parse(answer.text)).toMatchObject({ error: 'the body is not valid JSON' });
      expect(answer.text).not.toContain(SECOND);
    }
    const weak = await post('/api/v1/users/wang/password', JSON.stringify({ password: 'short pw' }));
    expect(JSON.parse(weak.text)).toEqual({ error: 'the body is invalid', problems: ['password: at least 10 characters'] });
    expect(weak.text).not.toContain('short pw');
    expect((await fetch(`${api.url}/api/v1/users/wang/password`)).status).toBe(405);
  });
});

describe('hcp gateway users, the real CLI', () => {
  it('add with the password piped in, then list --json, from a child process', async () => {
    const env = { HCP_GATEWAY_TOKEN: TOKEN };
    const add = await hcp(['gateway', 'users', 'add', 'zhang', '--role', 'city', '--area', '3301', '--name', '张科长', '--password-stdin', '--url', api.url], 60_000, `${PASSWORD}\n`, env);
    expect(add).toMatchObject({ code: 0, stdout: 'added zhang: sees 市级 3301; signs in to the dashboard with the password just given\n' });
    const list = await hcp(['gateway', 'users', 'list', '--json', '--url', api.url], 60_000, '', env);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ username: 'zhang', displayName: '张科长', scope: { role: 'city', areaPrefix: '3301', hallCode: null }, disabled: false })]);
    expect((await sessions().signIn('zhang', PASSWORD)).ok).toBe(true);
    const argv = await hcp(['gateway', 'users', 'passwd', 'zhang', '--password', SECOND, '--url', api.url], 60_000, '', env);
    expect(argv.code).toBe(1);
    expect(argv.stderr).toMatch(/--password is refused/);
    expect(argv.stderr).not.toContain(SECOND);
  }, 180_000);

  it('on a real terminal (a pty by util-linux script): asked twice, and the password never appears on it', async () => {
    const command = `${process.execPath} --import tsx cli/main.ts gateway users passwd zhang --url ${api.url}`;
    await gatewayUsersAddCommand('zhang', { ...county, url: api.url, passwordStdin: true }, capture(piped(PASSWORD)).deps);
    const child = spawn('script', ['-q', '-e', '-E', 'never', '-c', command, '/dev/null'], { env: { ...process.env, HCP_GATEWAY_TOKEN: TOKEN }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (chunk: Buffer) => (screen += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      // Typed as a person types: each line after its question is on the screen.
      await waitUntil(() => screen.includes('new password for zhang: '), 'the first question', { timeoutMs: 60_000 });
      child.stdin.write(`${SECOND}\r`);
      await waitUntil(() => screen.includes('the same again: '), 'the second question', { timeoutMs: 10_000 });
      child.stdin.write(`${SECOND}\r`);
      expect(await exited).toBe(0);
    } finally {
      child.kill();
    }
    expect(screen).toContain('new password set for zhang');
    expect(screen).not.toContain(SECOND);
    expect((await sessions().signIn('zhang', SECOND)).ok).toBe(true);
  }, 180_000);
});
