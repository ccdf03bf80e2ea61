import { z } from 'zod';
import { explain } from '../../protocol/issues.js';
import type { Database, Queryable } from '../db/database.js';
import type { Clock } from '../ports.js';
import { recordOperatorAction } from '../registry/terminal-rows.js';
import { hashPassword, passwordSchema, type ScryptParams } from './password.js';
import { scopeSchema, type Scope } from './scope.js';

/*
 * The dashboard's accounts: who they are, what they see (scope.ts), whether they may sign in.
 * Every change is one transaction that also appends a line, with its actor, to operator_actions;
 * a password never leaves this file other than as its hash.
 */

/** Lowercase so that "Li" and "li" cannot be two accounts; no spaces or symbols a shell or a log would mangle. */
export const usernameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{1,31}$/, '2 to 32 characters: lowercase letters, digits and . _ - (starting with a letter or digit)');

export const displayNameSchema = z
  .string()
  .trim()
  .max(64, 'at most 64 characters')
  .refine((name) => !/[\p{Cc}\p{Cf}]/u.test(name), 'no control or invisible formatting characters');

export const newUserSchema = z.strictObject({
  username: usernameSchema,
  displayName: displayNameSchema.default(''),
  scope: scopeSchema,
  password: passwordSchema,
});
export type NewUser = z.input<typeof newUserSchema>;

export interface UserView {
  username: string;
  displayName: string;
  scope: Scope;
  disabled: boolean;
  createdAt: Date;
  lastLoginAt: Date | null;
}

/** Who changes an account, and when: the actor goes to operator_actions. */
export interface UserChange {
  clock: Clock;
  actor: string;
  /** scrypt's parameters for a new hash: SCRYPT_PARAMS unless given (tests give cheaper ones). */
  kdf?: ScryptParams;
}

/** A refusal: `invalid` (with the problems, field by field), `not_found`, `exists`. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    readonly code: 'invalid' | 'not_found' | 'exists',
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

/** A users row as read by every query here (and by sessions.ts). */
export type UserRow = {
  username: string;
  display_name: string;
  role: Scope['role'];
  area_prefix: string;
  hall_code: string | null;
  disabled: boolean;
  created_at: Date;
  last_login_at: Date | null;
};

export const USER_COLUMNS = 'username, display_name, role, area_prefix, hall_code, disabled, created_at, last_login_at';

export function scopeOfRow(row: Pick<UserRow, 'role' | 'area_prefix' | 'hall_code'>): Scope {
  return { role: row.role, areaPrefix: row.area_prefix, hallCode: row.hall_code };
}

function view(row: UserRow): UserView {
  return { username: row.username, displayName: row.display_name, scope: scopeOfRow(row), disabled: row.disabled, createdAt: new Date(row.created_at), lastLoginAt: row.last_login_at === null ? null : new Date(row.last_login_at) };
}

function checked<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = explain(schema, value);
  if (!result.ok) throw new UserError('invalid', `the ${what} is refused`, result.problems);
  return result.data;
}

const checkedName = (username: string): string => checked(usernameSchema, username, 'username');

/** A new account; refused if the name is taken. The password is checked by the policy (passwordSchema). */
export async function addUser(db: Database, input: NewUser, change: UserChange): Promise<UserView> {
  const user = checked(newUserSchema, input, 'account');
  const hash = await hashPassword(user.password, change.kdf);
  const now = change.clock.now();
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<UserRow>(
      `INSERT INTO users (username, display_name, role, area_prefix, hall_code, password_hash, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (username) DO NOTHING RETURNING ${USER_COLUMNS}`,
      [user.username, user.displayName, user.scope.role, user.scope.areaPrefix, user.scope.hallCode, hash, now],
    );
    const row = rows[0];
    if (!row) throw new UserError('exists', `an account named ${user.username} exists already`);
    await logChange(tx, change, now, 'user_add', user.username, { displayName: user.displayName, scope: user.scope });
    return view(row);
  });
}

export async function listUsers(db: Queryable): Promise<UserView[]> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY username`);
  return rows.map(view);
}

/** The account, or undefined (a name that cannot be an account's is also undefined). */
export async function getUser(db: Queryable, username: string): Promise<UserView | undefined> {
  if (!usernameSchema.safeParse(username).success) return undefined;
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE username = $1`, [username]);
  return rows[0] && view(rows[0]);
}

/** A new password: the account's sessions end, and a lock from wrong passwords is lifted. */
export async function setPassword(db: Database, username: string, password: string, change: UserChange): Promise<UserView> {
  const name = checkedName(username);
  const hash = await hashPassword(checked(passwordSchema, password, 'password'), change.kdf);
  const user = await updateUser(db, name, change, { action: 'user_password', set: 'password_hash = $3, failed_logins = 0, locked_until = NULL', params: [hash], endSessions: true });
  if (!user) throw notFound(name);
  return user;
}

/**
 * Disables or enables the account. Disabling ends its sessions; enabling also lifts a lock from
 * wrong passwords (an operator's way to let someone in before the 15 minutes are up).
 * `changed`: false when it already was so, and (enabling) not locked (then nothing is written).
 */
export async function setDisabled(db: Database, username: string, disabled: boolean, change: UserChange): Promise<{ user: UserView; changed: boolean }> {
  const name = checkedName(username);
  const set = disabled ? 'disabled = true' : 'disabled = false, failed_logins = 0, locked_until = NULL';
  const user = await updateUser(db, name, change, { action: disabled ? 'user_disable' : 'user_enable', set, params: [], endSessions: disabled, only: disabled ? 'disabled = false' : '(disabled OR locked_until IS NOT NULL OR failed_logins > 0)' });
  if (user) return { user, changed: true };
  const current = await getUser(db, name);
  if (!current) throw notFound(name);
  return { user: current, changed: false };
}

/** Removes the account and its sessions; its past actions stay in operator_actions. */
export async function removeUser(db: Database, username: string, change: UserChange): Promise<void> {
  const name = checkedName(username);
  const now = change.clock.now();
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<UserRow>(`DELETE FROM users WHERE username = $1 RETURNING ${USER_COLUMNS}`, [name]);
    const row = rows[0];
    if (!row) throw notFound(name);
    await logChange(tx, change, now, 'user_remove', name, { scope: scopeOfRow(row) });
  });
}

interface Update {
  action: string;
  /** The SET list: $1 is the name, $2 the time, then `params`. */
  set: string;
  params: unknown[];
  endSessions: boolean;
  /** Changed only where this holds too (in the same statement, so two operators at once do not both log a change). */
  only?: string;
}

/** One UPDATE of the row, its log line, and the sessions ended when asked; undefined when no row was changed. */
async function updateUser(db: Database, username: string, change: UserChange, { action, set, params, endSessions, only = 'true' }: Update): Promise<UserView | undefined> {
  const now = change.clock.now();
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<UserRow>(`UPDATE users SET ${set}, updated_at = $2 WHERE username = $1 AND ${only} RETURNING ${USER_COLUMNS}`, [username, now, ...params]);
    const row = rows[0];
    if (!row) return undefined;
    const ended = endSessions ? (await tx.query('DELETE FROM sessions WHERE username = $1 RETURNING 1', [username])).rows.length : 0;
    await logChange(tx, change, now, action, username, endSessions ? { sessionsEnded: ended } : {});
    return view(row);
  });
}

const notFound = (username: string): UserError => new UserError('not_found', `no account is named ${username}`);

function logChange(tx: Queryable, change: UserChange, at: Date, action: string, username: string, detail: Record<string, unknown>): Promise<void> {
  return recordOperatorAction(tx, { at, actor: change.actor, action, terminalId: null, detail: { username, ...detail } });
}
