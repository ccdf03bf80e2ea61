import { beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../gateway/accounts/password.js';
import { addUser, getUser, listUsers, removeUser, setDisabled, setPassword, UserError, usernameSchema, type NewUser } from '../../gateway/accounts/users.js';
import type { Database } from '../../gateway/db/database.js';
import { gatewayDatabaseEngines } from '../support/db-engines.js';
import { TEST_KDF, useAccountsDatabase } from './accounts-fixture.js';

/**
 * The dashboard's accounts on both engines: names, display names and scopes checked (a county
 * account is six digits of area code, a hall account names its hall), every change one line in
 * operator_actions with its actor and never the password or its hash.
 */
const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 2 });
const AT = new Date('2026-03-02T01:00:00Z');
const change = { clock: { now: () => AT }, actor: 'admin-api:li', kdf: TEST_KDF };
const PASSWORD = 'a long password';

const account = (over: Partial<NewUser> = {}): NewUser => ({ username: 'wang', displayName: '王经理', scope: { role: 'county', areaPrefix: '330106', hallCode: null }, password: PASSWORD, ...over });

/** The refusal's problems, or a failure if it did not refuse. */
async function refusal(promise: Promise<unknown>): Promise<UserError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UserError)) throw new Error(`expected a UserError, got ${String(err)}`);
  return err;
}

describe('usernameSchema', () => {
  it('takes lowercase names of 2 to 32 characters; refuses capitals, spaces, symbols, and names starting with a symbol', () => {
    for (const name of ['li', 'wang.jun', 'zhang_3', 'county-330106', 'a'.repeat(32)]) expect(usernameSchema.safeParse(name).success, name).toBe(true);
    for (const name of ['l', 'Li', 'wang jun', '王', '.hidden', '-rf', 'a'.repeat(33), 'x;drop', 'li\n', '']) expect(usernameSchema.safeParse(name).success, name).toBe(false);
  });
});

describe.each(engines)('accounts on $name', (engine) => {
  const { db: database } = useAccountsDatabase(engine);
  let db: Database;
  beforeEach(() => {
    db = database();
  });

  const actions = async (): Promise<{ actor: string; action: string; detail: Record<string, unknown> }[]> =>
    (await db.query<{ actor: string; action: string; detail: Record<string, unknown> }>("SELECT actor, action, detail FROM operator_actions ORDER BY at, action, detail->>'username'")).rows;

  it('adds, lists and gets an account; the password only as its hash; the operator log names the actor and the scope', async () => {
    const user = await addUser(db, account(), change);
    expect(user).toEqual({ username: 'wang', displayName: '王经理', scope: { role: 'county', areaPrefix: '330106', hallCode: null }, disabled: false, createdAt: AT, lastLoginAt: null });
    await addUser(db, account({ username: 'hall1', displayName: undefined, scope: { role: 'hall', areaPrefix: '330106', hallCode: '330106-ZWFW-01' } }), change);
    expect((await listUsers(db)).map((u) => u.username)).toEqual(['hall1', 'wang']);
    expect(await getUser(db, 'wang')).toEqual(user);
    expect(await getUser(db, 'nobody')).toBeUndefined();
    expect(await getUser(db, "' OR 1=1 --")).toBeUndefined();
    const { rows } = await db.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'wang'");
    expect(await verifyPassword(PASSWORD, rows[0]!.password_hash)).toBe(true);
    const log = await actions();
    expect(log).toEqual([
      { actor: 'admin-api:li', action: 'user_add', detail: { username: 'hall1', displayName: '', scope: { role: 'hall', areaPrefix: '330106', hallCode: '330106-ZWFW-01' } } },
      { actor: 'admin-api:li', action: 'user_add', detail: { username: 'wang', displayName: '王经理', scope: { role: 'county', areaPrefix: '330106', hallCode: null } } },
    ]);
    expect(JSON.stringify(log)).not.toContain(PASSWORD);
    expect(JSON.stringify(log)).not.toContain('scrypt');
  });

  it('refuses a scope that does not fit its level, saying which field, and stores nothing', async () => {
    const cases: [NewUser['scope'], RegExp][] = [
      [{ role: 'county', areaPrefix: '3301', hallCode: null }, /scope\.areaPrefix: a county account is bound to 6 digits of the area code, not 4/],
      [{ role: 'province', areaPrefix: '330106', hallCode: null }, /scope\.areaPrefix: a province account is bound to 2 digits/],
      [{ role: 'city', areaPrefix: '3301', hallCode: 'H01' }, /scope\.hallCode: a city account names no hall/],
      [{ role: 'hall', areaPrefix: '330106', hallCode: null }, /scope\.hallCode: a hall account names its hall/],
      [{ role: 'county', areaPrefix: '33010a', hallCode: null }, /scope\.areaPrefix: an area code prefix/],
      [{ role: 'street', areaPrefix: '330106', hallCode: null } as unknown as NewUser['scope'], /scope\.role: /],
    ];
    for (const [scope, reason] of cases) {
      const err = await refusal(addUser(db, account({ scope }), change));
      expect(err.code).toBe('invalid');
      expect(err.problems.join('\n'), JSON.stringify(scope)).toMatch(reason);
    }
    expect(await listUsers(db)).toEqual([]);
    expect(await actions()).toEqual([]);
  });

  it('refuses bad names, display names and passwords with reasons that never repeat the password', async () => {
    const bad: [Partial<NewUser>, RegExp][] = [
      [{ username: 'Wang' }, /^username: /],
      [{ displayName: 'x'.repeat(65) }, /^displayName: at most 64/],
      [{ displayName: '王\u202e经理' }, /^displayName: no control or invisible/],
      [{ password: 'short' }, /^password: at least 10/],
      [{ password: 'with\nnewline inside' }, /^password: no control characters/],
    ];
    for (const [over, reason] of bad) {
      const err = await refusal(addUser(db, account(over), change));
      expect(err.problems[0]).toMatch(reason);
      expect(err.problems.join()).not.toContain(String(over.password ?? PASSWORD));
    }
    expect((await refusal(addUser(db, { ...account(), role: 'province' } as unknown as NewUser, change))).problems).toEqual(['(top level): Unrecognized key: "role"']);
    expect(await listUsers(db)).toEqual([]);
  });

  it('a taken name is refused as exists; an unknown one as not_found, for every change', async () => {
    await addUser(db, account(), change);
    expect((await refusal(addUser(db, account({ displayName: 'another' }), change))).code).toBe('exists');
    for (const attempt of [() => setPassword(db, 'li', PASSWORD, change), () => setDisabled(db, 'li', true, change), () => removeUser(db, 'li', change)]) {
      expect((await refusal(attempt())).code).toBe('not_found');
    }
    expect((await refusal(setPassword(db, 'Bad Name', PASSWORD, change))).code).toBe('invalid');
    expect((await actions()).map((a) => a.action)).toEqual(['user_add']);
  });

  it('setPassword, disable, enable and remove: each one log line, disable/enable only when it changes something', async () => {
    await addUser(db, account(), change);
    await setPassword(db, 'wang', 'the second password', change);
    expect(await setDisabled(db, 'wang', true, change)).toMatchObject({ changed: true, user: { disabled: true } });
    expect(await setDisabled(db, 'wang', true, change)).toMatchObject({ changed: false, user: { disabled: true } });
    expect(await setDisabled(db, 'wang', false, change)).toMatchObject({ changed: true, user: { disabled: false } });
    await removeUser(db, 'wang', change);
    expect(await getUser(db, 'wang')).toBeUndefined();
    const log = await actions();
    expect(log.map((a) => [a.action, a.detail.username])).toEqual([
      ['user_add', 'wang'],
      ['user_disable', 'wang'],
      ['user_enable', 'wang'],
      ['user_password', 'wang'],
      ['user_remove', 'wang'],
    ]);
    expect(log.find((a) => a.action === 'user_password')?.detail).toEqual({ username: 'wang', sessionsEnded: 0 });
    expect(JSON.stringify(log)).not.toContain('the second password');
  });
});
