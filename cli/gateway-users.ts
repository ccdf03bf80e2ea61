import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { formatAge } from '../bridge/diagnose/check.js';
import { passwordSchema } from '../gateway/accounts/password.js';
import { describeScope, type Scope } from '../gateway/accounts/scope.js';
import { newUserSchema, usernameSchema, type UserView } from '../gateway/accounts/users.js';
import { explain } from '../protocol/issues.js';
import { adminTarget, callAdmin, formatTable, GatewayAdminError, json, run, type AdminCommonOptions, type AdminDeps } from './gateway-admin.js';

/*
 * `hcp gateway users list | add | passwd | disable | enable | remove`: the dashboard's accounts,
 * through the running gateway's admin API (writes send the operator token). A password is typed
 * twice at the terminal with echo off, or piped with --password-stdin; never taken from argv,
 * where every user sees it (ps) and the shell keeps it.
 */

/** Why --password is refused, and what to do instead (also its --help line). */
export const PASSWORD_ON_ARGV = 'a password on the command line is seen by every user (ps) and kept in the shell history: type it at the prompt, or pipe it with --password-stdin';
/** The most --password-stdin reads: one line of a password, with room to say it is too long. */
const STDIN_MAX_BYTES = 4096;

export interface UsersDeps extends AdminDeps {
  /** Where the password comes from: the terminal (asked twice, echo off) or a pipe (--password-stdin). */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Where the prompts go (stderr, so that stdout stays the answer). */
  prompt?: NodeJS.WritableStream;
}

interface PasswordOptions {
  passwordStdin?: boolean | undefined;
  /** Only to be refused: see PASSWORD_ON_ARGV. */
  password?: unknown;
}

type WriteOptions = AdminCommonOptions & { operator?: string | undefined };
type UserWire = Omit<UserView, 'createdAt' | 'lastLoginAt'> & { createdAt: string; lastLoginAt: string | null };

const FLAG_OF: Record<string, string> = { username: '<name>', displayName: '--name', 'scope.role': '--role', 'scope.areaPrefix': '--area', 'scope.hallCode': '--hall', scope: '--role/--area/--hall' };

/** Checked here before a password is asked for, each problem said by its flag. */
function checkedLocally(schema: z.ZodType, fields: Record<string, unknown>): void {
  const result = explain(schema, fields);
  if (result.ok) return;
  const problems = result.problems.map((p) => p.replace(/^([^:]*): /, (whole, path: string) => (FLAG_OF[path] ? `${FLAG_OF[path]}: ` : whole)));
  throw new GatewayAdminError(`refused, nothing changed:${problems.map((p) => `\n  - ${p}`).join('')}`);
}

/** The new password: from the pipe with --password-stdin, or typed twice at the terminal. Checked by the policy; never printed. */
export async function readNewPassword(username: string, options: PasswordOptions, deps: UsersDeps): Promise<string> {
  if (options.password !== undefined) throw new GatewayAdminError(`--password is refused: ${PASSWORD_ON_ARGV}`);
  const stdin = deps.stdin ?? process.stdin;
  const password = options.passwordStdin ? await passwordFromPipe(stdin) : await passwordTypedTwice(username, stdin, deps.prompt ?? process.stderr);
  const result = explain(passwordSchema, password);
  if (!result.ok) throw new GatewayAdminError(`the password is refused (${result.problems.map((p) => p.replace(/^[^:]*: /, '')).join('; ')}); nothing changed`);
  return password;
}

async function passwordFromPipe(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > STDIN_MAX_BYTES) throw new GatewayAdminError(`--password-stdin: more than ${STDIN_MAX_BYTES} bytes on stdin; give one line, the password`);
    chunks.push(bytes);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  if (text === '') throw new GatewayAdminError('--password-stdin: stdin was empty; pipe the password in, e.g. from a file: < password.txt');
  if (lines.length > 1) throw new GatewayAdminError('--password-stdin: stdin held more than one line; give the password alone, on one line');
  return lines[0]!;
}

async function passwordTypedTwice(username: string, stdin: NodeJS.ReadableStream & { isTTY?: boolean }, prompt: NodeJS.WritableStream): Promise<string> {
  if (!stdin.isTTY) throw new GatewayAdminError('no terminal to ask the password on: pipe it in with --password-stdin');
  const output = new MutedOutput(prompt);
  const rl = createInterface({ input: stdin, output, terminal: true });
  let interrupted = false;
  rl.on('SIGINT', () => {
    interrupted = true;
    rl.close();
  });
  // One iterator for both lines: one typed ahead is kept, not lost between the two questions.
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (question: string): Promise<string> => {
    prompt.write(question);
    output.muted = true;
    const line = await lines.next();
    output.muted = false;
    prompt.write('\n');
    if (line.done) throw new GatewayAdminError(interrupted ? 'interrupted; nothing changed' : 'input ended before the password was given; nothing changed');
    return String(line.value);
  };
  try {
    const first = await ask(`new password for ${username}: `);
    const again = await ask('the same again: ');
    if (first !== again) throw new GatewayAdminError('the two passwords differ; nothing changed');
    return first;
  } finally {
    rl.close();
  }
}

/** The prompt's stream for readline, silent while a password is typed (readline echoes through it: the terminal is raw). */
class MutedOutput extends Writable {
  muted = false;
  constructor(private readonly target: NodeJS.WritableStream) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    if (!this.muted) this.target.write(chunk);
    callback();
  }
}

const justName = z.strictObject({ username: usernameSchema });

const ago = (iso: string | null, now: Date): string => (iso ? `${formatAge(now.getTime() - Date.parse(iso))} ago` : 'never');

export function formatUsers(users: UserWire[], now = new Date()): string {
  if (users.length === 0) return 'no accounts yet: add one with hcp gateway users add <name> --role <level> --area <digits>';
  const rows = users.map((u) => [u.username, u.displayName || '-', describeScope(u.scope), u.disabled ? 'DISABLED' : 'enabled', ago(u.lastLoginAt, now), u.createdAt.slice(0, 10)]);
  return formatTable(['USER', 'NAME', 'SEES', 'STATE', 'LAST SIGN-IN', 'CREATED'], rows);
}

/** `hcp gateway users list [--json]`. */
export async function gatewayUsersListCommand(options: AdminCommonOptions, deps: AdminDeps = {}): Promise<void> {
  await run('users list', deps, async (print) => {
    const { users } = await callAdmin<{ users: UserWire[] }>(adminTarget(options, deps.env), 'GET', '/api/v1/users', {}, deps);
    print(options.json ? json(users) : formatUsers(users));
  });
}

/** `hcp gateway users add <name> --role <level> --area <digits> [--hall <code>] [--name <display>] [--password-stdin]`. */
export async function gatewayUsersAddCommand(
  username: string,
  options: WriteOptions & PasswordOptions & { role: string; area: string; hall?: string | undefined; name?: string | undefined },
  deps: UsersDeps = {},
): Promise<void> {
  await run('users add', deps, async (print) => {
    const scope = { role: options.role, areaPrefix: options.area, hallCode: options.hall ?? null };
    checkedLocally(newUserSchema.omit({ password: true }), { username, displayName: options.name ?? '', scope });
    const target = adminTarget(options, deps.env);
    const password = await readNewPassword(username, options, deps);
    const body = { username, displayName: options.name ?? '', scope: scope as Scope, password };
    const { user } = await callAdmin<{ user: UserWire }>(target, 'POST', '/api/v1/users', { body, operator: options.operator, write: true }, deps);
    print(options.json ? json(user) : `added ${user.username}: sees ${describeScope(user.scope)}; signs in to the dashboard with the password just given`);
  });
}

/** `hcp gateway users passwd <name> [--password-stdin]`: a new password; the account's sessions end. */
export async function gatewayUsersPasswdCommand(username: string, options: WriteOptions & PasswordOptions, deps: UsersDeps = {}): Promise<void> {
  await run('users passwd', deps, async (print) => {
    checkedLocally(justName, { username });
    const target = adminTarget(options, deps.env);
    const password = await readNewPassword(username, options, deps);
    const { user } = await callAdmin<{ user: UserWire }>(target, 'POST', `/api/v1/users/${encodeURIComponent(username)}/password`, { body: { password }, operator: options.operator, write: true }, deps);
    print(options.json ? json(user) : `new password set for ${user.username}; its sessions are ended (signed out everywhere), and a lock from wrong passwords is lifted`);
  });
}

const SAID = {
  disable: (name: string, changed: boolean) => (changed ? `disabled ${name}: it cannot sign in, and its sessions are ended (undo: hcp gateway users enable ${name})` : `${name} was disabled already`),
  enable: (name: string, changed: boolean) => (changed ? `enabled ${name}: it may sign in again` : `${name} was enabled already`),
};

/** `hcp gateway users disable|enable <name>`. */
export async function gatewayUsersSetDisabledCommand(action: 'disable' | 'enable', username: string, options: WriteOptions, deps: AdminDeps = {}): Promise<void> {
  await run(`users ${action}`, deps, async (print) => {
    checkedLocally(justName, { username });
    const answer = await callAdmin<{ user: UserWire; changed: boolean }>(adminTarget(options, deps.env), 'POST', `/api/v1/users/${encodeURIComponent(username)}/${action}`, { body: {}, operator: options.operator, write: true }, deps);
    print(options.json ? json(answer) : SAID[action](answer.user.username, answer.changed));
  });
}

/** `hcp gateway users remove <name>`: the account and its sessions go; what it did stays in the operator log. */
export async function gatewayUsersRemoveCommand(username: string, options: WriteOptions, deps: AdminDeps = {}): Promise<void> {
  await run('users remove', deps, async (print) => {
    checkedLocally(justName, { username });
    const answer = await callAdmin<{ removed: string }>(adminTarget(options, deps.env), 'POST', `/api/v1/users/${encodeURIComponent(username)}/remove`, { body: {}, operator: options.operator, write: true }, deps);
    print(options.json ? json(answer) : `removed ${answer.removed}`);
  });
}
