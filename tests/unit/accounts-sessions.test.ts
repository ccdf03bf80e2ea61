import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { LOCK_MINUTES, MAX_FAILURES, Sessions } from '../../gateway/accounts/sessions.js';
import { addUser, removeUser, setDisabled, setPassword } from '../../gateway/accounts/users.js';
import type { Database } from '../../gateway/db/database.js';
import { gatewayDatabaseEngines } from '../support/db-engines.js';
import { TEST_KDF, useAccountsDatabase } from './accounts-fixture.js';

/**
 * Signing in, on both engines, with a clock the test moves: lockout after five wrong passwords in
 * a row for fifteen minutes, answers that do not tell a stranger which accounts exist, session
 * expiry, and sessions ended by a new password, disabling and removal.
 */
const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 2 });
const START = Date.parse('2026-03-02T01:00:00Z');
const PASSWORD = 'correct horse 电池';
const COUNTY = { role: 'county', areaPrefix: '330106', hallCode: null } as const;

describe.each(engines)('sessions on $name', (engine) => {
  const { db: database } = useAccountsDatabase(engine);
  let db: Database;
  let t = START;
  const clock = { now: () => new Date(t) };
  const change = { clock, actor: 'test', kdf: TEST_KDF };
  let counter = 0;
  /** Distinct, known tokens: byte i of the n-th token is n. */
  const random = (size: number): Buffer => Buffer.alloc(size, ++counter);
  let sessions: Sessions;

  beforeEach(async () => {
    t = START;
    db = database();
    await addUser(db, { username: 'wang', displayName: '王经理', scope: COUNTY, password: PASSWORD }, change);
    sessions = new Sessions({ db, clock, sessionHours: 12, random, kdf: TEST_KDF });
  });

  const minutes = (n: number): void => {
    t += n * 60_000;
  };

  it('the right password opens a session: a 32-byte base64url token, only its SHA-256 stored, the user and scope known by the token', async () => {
    const result = await sessions.signIn('wang', PASSWORD);
    if (!result.ok) throw new Error(`refused: ${result.reason}`);
    expect(result.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(result.token, 'base64url')).toEqual(Buffer.alloc(32, counter));
    expect(result.expiresAt).toEqual(new Date(START + 12 * 3_600_000));
    expect(result.user).toEqual({ username: 'wang', displayName: '王经理', scope: COUNTY });
    const { rows } = await db.query<{ token_hash: string }>('SELECT token_hash FROM sessions');
    expect(rows).toEqual([{ token_hash: createHash('sha256').update(result.token).digest('hex') }]);
    expect(await sessions.authenticate(result.token)).toEqual(result.user);
    const { rows: users } = await db.query<{ last_login_at: Date }>('SELECT last_login_at FROM users');
    expect(new Date(users[0]!.last_login_at)).toEqual(new Date(START));
  });

  it('a session ends at its expiry (not sliding), and at sign-out; a token of another form is no session', async () => {
    const result = await sessions.signIn('wang', PASSWORD);
    if (!result.ok) throw new Error('refused');
    minutes(12 * 60 - 1);
    expect(await sessions.authenticate(result.token)).toBeDefined();
    minutes(1);
    expect(await sessions.authenticate(result.token)).toBeUndefined();
    expect((await db.query('SELECT 1 FROM sessions')).rows).toHaveLength(0);
    const again = await sessions.signIn('wang', PASSWORD);
    if (!again.ok) throw new Error('refused');
    await sessions.signOut(again.token);
    expect(await sessions.authenticate(again.token)).toBeUndefined();
    for (const junk of ['', 'x', `${again.token}x`, again.token.slice(1), 'a'.repeat(43).replace('a', '+')]) {
      expect(await sessions.authenticate(junk)).toBeUndefined();
      await sessions.signOut(junk);
    }
  });

  it(`${MAX_FAILURES} wrong passwords in a row lock the account for ${LOCK_MINUTES} minutes; the right one then hears "locked", a wrong one still "bad_credentials"`, async () => {
    for (let i = 0; i < MAX_FAILURES - 1; i++) expect(await sessions.signIn('wang', `wrong password ${i}`)).toEqual({ ok: false, reason: 'bad_credentials' });
    expect((await sessions.signIn('wang', PASSWORD)).ok).toBe(true); // four wrong, then right: the count starts again
    for (let i = 0; i < MAX_FAILURES; i++) expect(await sessions.signIn('wang', `wrong password ${i}`)).toEqual({ ok: false, reason: 'bad_credentials' });
    expect(await sessions.signIn('wang', PASSWORD)).toEqual({ ok: false, reason: 'locked' });
    minutes(LOCK_MINUTES - 1);
    // Wrong ones while locked do not extend the lock.
    expect(await sessions.signIn('wang', 'wrong again!!')).toEqual({ ok: false, reason: 'bad_credentials' });
    expect(await sessions.signIn('wang', PASSWORD)).toEqual({ ok: false, reason: 'locked' });
    minutes(1);
    expect((await sessions.signIn('wang', PASSWORD)).ok).toBe(true);
    expect(sessions.stats()).toEqual({ signedIn: 2, bad_credentials: MAX_FAILURES * 2, locked: 2, disabled: 0 });
  });

  it('after a lock runs out, it takes five more wrong ones to lock again; a new password lifts a lock at once', async () => {
    for (let i = 0; i < MAX_FAILURES; i++) await sessions.signIn('wang', 'wrong password');
    minutes(LOCK_MINUTES);
    for (let i = 0; i < MAX_FAILURES - 1; i++) await sessions.signIn('wang', 'wrong password');
    expect((await sessions.signIn('wang', PASSWORD)).ok).toBe(true);
    for (let i = 0; i < MAX_FAILURES; i++) await sessions.signIn('wang', 'wrong password');
    expect(await sessions.signIn('wang', PASSWORD)).toEqual({ ok: false, reason: 'locked' });
    await setPassword(db, 'wang', 'a new password 2', change);
    expect((await sessions.signIn('wang', 'a new password 2')).ok).toBe(true);
    // An operator's enable lifts a lock on an account that was never disabled.
    for (let i = 0; i < MAX_FAILURES; i++) await sessions.signIn('wang', 'wrong password');
    expect(await sessions.signIn('wang', 'a new password 2')).toEqual({ ok: false, reason: 'locked' });
    expect((await setDisabled(db, 'wang', false, change)).changed).toBe(true);
    expect((await sessions.signIn('wang', 'a new password 2')).ok).toBe(true);
    expect((await setDisabled(db, 'wang', false, change)).changed).toBe(false);
  });

  it('an unknown name, a name that cannot be one, and non-strings all hear bad_credentials and store nothing', async () => {
    const before = await db.query('SELECT * FROM users');
    for (const [name, pw] of [['li', PASSWORD], ['WANG', PASSWORD], ["wang' OR 1=1 --", PASSWORD], ['', ''], [42, PASSWORD], ['wang', { toString: () => PASSWORD }], ['wang', 'x'.repeat(100_000)]] as const) {
      expect(await sessions.signIn(name as string, pw as string)).toEqual({ ok: false, reason: 'bad_credentials' });
    }
    expect((await db.query('SELECT 1 FROM sessions')).rows).toHaveLength(0);
    // The two wrong attempts on wang's own name counted; nothing else changed.
    const after = await db.query<{ failed_logins: number }>('SELECT * FROM users');
    expect(after.rows[0]!.failed_logins).toBe(2);
    expect({ ...after.rows[0], failed_logins: 0 }).toEqual(before.rows[0]);
  });

  it('a disabled account hears "disabled" only with its right password; disabling ends its sessions, enabling lets it in', async () => {
    const open = await sessions.signIn('wang', PASSWORD);
    if (!open.ok) throw new Error('refused');
    await setDisabled(db, 'wang', true, change);
    expect(await sessions.authenticate(open.token)).toBeUndefined();
    expect(await sessions.signIn('wang', 'wrong password')).toEqual({ ok: false, reason: 'bad_credentials' });
    expect(await sessions.signIn('wang', PASSWORD)).toEqual({ ok: false, reason: 'disabled' });
    await setDisabled(db, 'wang', false, change);
    expect((await sessions.signIn('wang', PASSWORD)).ok).toBe(true);
  });

  it('a new password and removal end every session of the account', async () => {
    const a = await sessions.signIn('wang', PASSWORD);
    const b = await sessions.signIn('wang', PASSWORD);
    if (!a.ok || !b.ok) throw new Error('refused');
    await setPassword(db, 'wang', 'another password', change);
    expect(await sessions.authenticate(a.token)).toBeUndefined();
    expect(await sessions.authenticate(b.token)).toBeUndefined();
    const c = await sessions.signIn('wang', 'another password');
    if (!c.ok) throw new Error('refused');
    await removeUser(db, 'wang', change);
    expect(await sessions.authenticate(c.token)).toBeUndefined();
    expect((await db.query('SELECT 1 FROM sessions')).rows).toHaveLength(0);
  });

  it('parallel wrong passwords each count: five at once lock the account', async () => {
    await Promise.all(Array.from({ length: MAX_FAILURES }, () => sessions.signIn('wang', 'wrong password')));
    expect(await sessions.signIn('wang', PASSWORD)).toEqual({ ok: false, reason: 'locked' });
  });
});
