import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPassword, passwordSchema, SCRYPT_PARAMS, verifyPassword } from '../../gateway/accounts/password.js';

/** The dashboard's password hashes (scrypt) and the password policy. */

const CHEAP = { ln: 10, r: 8, p: 1 };

describe('hashPassword and verifyPassword', () => {
  it('stores scrypt with its parameters and a fresh salt in the text; verifies the password it was made from and nothing else', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(SCRYPT_PARAMS).toEqual({ ln: 15, r: 8, p: 1 });
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    for (const wrong of ['correct horse batter', 'Correct horse battery', 'correct horse battery ', '']) expect(await verifyPassword(wrong, stored)).toBe(false);
    expect(await hashPassword('correct horse battery')).not.toBe(stored);
  });

  it('is the scrypt of the standard: the key in the text is scryptSync(password, salt) with the parameters the text names', async () => {
    const stored = await hashPassword('口令 for 王经理', CHEAP);
    const [, , params, salt, key] = stored.split('$');
    expect(params).toBe('ln=10,r=8,p=1');
    const expected = scryptSync('口令 for 王经理', Buffer.from(salt!, 'base64'), 32, { N: 1024, r: 8, p: 1 });
    expect(Buffer.from(key!, 'base64')).toEqual(expected);
  });

  it('reads the parameters from each stored text, so hashes made with other parameters still verify', async () => {
    const cheap = await hashPassword('one password here', CHEAP);
    const other = await hashPassword('one password here', { ln: 11, r: 4, p: 2 });
    expect(await verifyPassword('one password here', cheap)).toBe(true);
    expect(await verifyPassword('one password here', other)).toBe(true);
  });

  it('compares after Unicode normalisation (NFC): é typed as one code point or as e + accent is the same password', async () => {
    const stored = await hashPassword('caf\u00e9 au lait!', CHEAP);
    expect(await verifyPassword('cafe\u0301 au lait!', stored)).toBe(true);
  });

  it('a stored text it cannot read, or one asking for absurd work, is false, never an error', async () => {
    const good = await hashPassword('one password here', CHEAP);
    const bad = [
      '',
      'plain text',
      good.replace('$scrypt$', '$argon2id$'),
      good.replace('ln=10', 'ln=30'),
      good.replace('ln=10', 'ln=9'),
      good.replace('r=8', 'r=99'),
      good.replace('p=1', 'p=0'),
      good.slice(0, -5),
      `${good}$`,
      good.replace(/\$[^$]+$/, '$!!!!!!!!!!!!!!!!!!!!!!!!'),
    ];
    for (const stored of bad) expect(await verifyPassword('one password here', stored), stored).toBe(false);
  });
});

describe('passwordSchema (the policy)', () => {
  it('takes 10 to 128 characters of any script, spaces inside included', () => {
    for (const pw of ['0123456789', 'correct horse', '王经理的密码一二三四', 'x'.repeat(128), '🔑'.repeat(10)]) expect(passwordSchema.safeParse(pw).success, pw).toBe(true);
  });

  it('refuses short, long, blank and control characters, each with its reason, never repeating the password', () => {
    const cases: [string, RegExp][] = [
      ['short', /at least 10 characters/],
      ['x'.repeat(129), /at most 128 characters/],
      [' '.repeat(12), /not only spaces/],
      ['new\nline password', /no control characters/],
      ['tab\tseparated pw', /no control characters/],
      ['nul\0inside password', /no control characters/],
      ['\u001b[31mredredred', /no control characters/],
    ];
    for (const [pw, reason] of cases) {
      const result = passwordSchema.safeParse(pw);
      expect(result.success, JSON.stringify(pw)).toBe(false);
      const messages = result.error!.issues.map((i) => i.message).join('; ');
      expect(messages).toMatch(reason);
      expect(messages).not.toContain(pw);
    }
    expect(passwordSchema.safeParse(1234567890).success).toBe(false);
  });
});
