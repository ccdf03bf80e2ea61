import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import type { Clock } from '../ports.js';
import { hashPassword, PASSWORD_MAX_CHARS, verifyPassword, type ScryptParams } from './password.js';
import type { Scope } from './scope.js';
import { scopeOfRow, USER_COLUMNS, usernameSchema, type UserRow } from './users.js';

/*
 * Signing in to the dashboard, and the sessions that follow. The browser holds a random token;
 * the sessions table holds only its SHA-256, so a copy of the table opens nothing.
 *
 * Every signIn does exactly one scrypt check, whatever the name: an unknown name is checked
 * against a hash of nothing, so the time taken does not tell which accounts exist. Nor does the
 * answer: "locked" and "disabled" are said only to whoever gives the right password; a wrong one
 * always hears bad_credentials. Five wrong in a row lock the account for 15 minutes; wrong ones
 * while it is locked neither count nor extend it (so a stranger cannot keep someone out for good).
 */

export const MAX_FAILURES = 5;
export const LOCK_MINUTES = 15;
const TOKEN_BYTES = 32;
const TOKEN_FORM = /^[A-Za-z0-9_-]{43}$/;
/** last_seen_at is written at most this often per session: a page polling every second is not a write per second. */
const SEEN_EVERY_MS = 60_000;

export interface SessionUser {
  username: string;
  displayName: string;
  scope: Scope;
}

export type SignInResult = { ok: true; token: string; user: SessionUser; expiresAt: Date } | { ok: false; reason: 'bad_credentials' | 'locked' | 'disabled' };

/** Sign-ins since start, by answer: for the gateway's status. */
export interface SignInCounts {
  signedIn: number;
  bad_credentials: number;
  locked: number;
  disabled: number;
}

export interface SessionsOptions {
  db: Database;
  clock: Clock;
  /** How long a session lasts from sign-in (config dashboard.sessionHours). */
  sessionHours: number;
  /** Random bytes (crypto's by default). */
  random?: (size: number) => Buffer;
  /** The parameters the accounts' hashes are made with (SCRYPT_PARAMS unless given), so an unknown name costs what a known one does. */
  kdf?: ScryptParams;
}

type SignInRow = UserRow & { password_hash: string; locked_until: Date | null };

export class Sessions {
  private readonly random: (size: number) => Buffer;
  /** What an unknown name is checked against: made once, with the parameters every new hash gets. */
  private readonly nobody: Promise<string>;
  private readonly counts: SignInCounts = { signedIn: 0, bad_credentials: 0, locked: 0, disabled: 0 };

  constructor(private readonly options: SessionsOptions) {
    this.random = options.random ?? randomBytes;
    this.nobody = hashPassword(randomBytes(16).toString('hex'), options.kdf);
  }

  async signIn(username: string, password: string): Promise<SignInResult> {
    const result = await this.attempt(username, password);
    this.counts[result.ok ? 'signedIn' : result.reason] += 1;
    return result;
  }

  stats(): SignInCounts {
    return { ...this.counts };
  }

  private async attempt(username: string, password: string): Promise<SignInResult> {
    const now = this.options.clock.now();
    const name = typeof username === 'string' && usernameSchema.safeParse(username).success ? username : undefined;
    const row = name === undefined ? undefined : (await this.options.db.query<SignInRow>(`SELECT ${USER_COLUMNS}, password_hash, locked_until FROM users WHERE username = $1`, [name])).rows[0];
    // An overlong or non-string password is checked as an empty one: wrong, at the usual cost.
    const given = typeof password === 'string' && password.length <= PASSWORD_MAX_CHARS * 2 ? password : '';
    const right = (await verifyPassword(given, row?.password_hash ?? (await this.nobody))) && given !== '';
    if (!row) {
      // The same statement a wrong password for a real account runs (here it matches nothing): the same round trips.
      if (name !== undefined) await this.countFailure(name, now);
      return { ok: false, reason: 'bad_credentials' };
    }
    const locked = row.locked_until !== null && new Date(row.locked_until).getTime() > now.getTime();
    if (!right) {
      if (!locked) await this.countFailure(row.username, now);
      return { ok: false, reason: 'bad_credentials' };
    }
    if (row.disabled) return { ok: false, reason: 'disabled' };
    if (locked) return { ok: false, reason: 'locked' };
    return this.open(row, now);
  }

  /** The signed-in user, or undefined: no such session, expired, or the account disabled. */
  async authenticate(token: string): Promise<SessionUser | undefined> {
    if (typeof token !== 'string' || !TOKEN_FORM.test(token)) return undefined;
    const now = this.options.clock.now();
    const hash = tokenHash(token);
    const { rows } = await this.options.db.query<UserRow & { expires_at: Date; last_seen_at: Date }>(
      `SELECT ${USER_COLUMNS.split(', ').map((c) => `u.${c}`).join(', ')}, s.expires_at, s.last_seen_at
       FROM sessions s JOIN users u ON u.username = s.username WHERE s.token_hash = $1`,
      [hash],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (new Date(row.expires_at).getTime() <= now.getTime()) {
      await this.options.db.query('DELETE FROM sessions WHERE token_hash = $1', [hash]);
      return undefined;
    }
    if (row.disabled) return undefined;
    if (now.getTime() - new Date(row.last_seen_at).getTime() >= SEEN_EVERY_MS) {
      await this.options.db.query('UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1', [hash, now]);
    }
    return sessionUser(row);
  }

  /** Ends the session (logout); an unknown or malformed token is no error. */
  async signOut(token: string): Promise<void> {
    if (typeof token !== 'string' || !TOKEN_FORM.test(token)) return;
    await this.options.db.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash(token)]);
  }

  /** One more wrong password in a row, in one statement (parallel attempts each count); the fifth locks and starts the count again. */
  private async countFailure(username: string, now: Date): Promise<void> {
    await this.options.db.query(
      `UPDATE users SET
         failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
         locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3::timestamptz ELSE locked_until END
       WHERE username = $1 AND (locked_until IS NULL OR locked_until <= $4)`,
      [username, MAX_FAILURES, new Date(now.getTime() + LOCK_MINUTES * 60_000), now],
    );
  }

  private async open(row: SignInRow, now: Date): Promise<SignInResult> {
    const token = this.random(TOKEN_BYTES).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.options.sessionHours * 3_600_000);
    await this.options.db.transaction(async (tx) => {
      await tx.query('UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $2 WHERE username = $1', [row.username, now]);
      await tx.query('INSERT INTO sessions (token_hash, username, created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $3)', [tokenHash(token), row.username, now, expiresAt]);
      // Expired sessions of anyone go here, where a write happens anyway: no sweeper to run.
      await tx.query('DELETE FROM sessions WHERE expires_at <= $1', [now]);
    });
    return { ok: true, token, user: sessionUser(row), expiresAt };
  }
}

function sessionUser(row: UserRow): SessionUser {
  return { username: row.username, displayName: row.display_name, scope: scopeOfRow(row) };
}

const tokenHash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');
