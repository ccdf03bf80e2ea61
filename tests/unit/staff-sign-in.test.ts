import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../bridge/config.js';
import { FailureLimiter } from '../../bridge/http/failure-limiter.js';
import { StaffSignIn } from '../../bridge/http/staff-sign-in.js';
import { callerTokens, readTokenFile } from '../../bridge/http/token-file.js';
import { silentLogger } from '../../bridge/log.js';
import { hashPin, pinMatches } from '../../bridge/province/staff-pin.js';
import { StaffRosterStore } from '../../bridge/province/staff-roster.js';
import { openDatabase } from '../../bridge/store/database.js';
import { Settings } from '../../bridge/store/settings.js';
import { explain } from '../../protocol/issues.js';
import { pinHashSchema, provinceConfigSchema, staffRosterSchema } from '../../protocol/province-config.js';
import { SAMPLE_PIN_HASH, SAMPLE_STAFF_PIN, SAMPLE_STAFF_ROSTER } from '../../simulator/sample-staff.js';

const CHEAP = { N: 2 ** 12, r: 1, p: 1 };

describe('PIN hashes', () => {
  it('the sample roster\'s hash is SAMPLE_STAFF_PIN\'s, and the roster passes the schema', async () => {
    expect(await pinMatches(SAMPLE_STAFF_PIN, SAMPLE_PIN_HASH)).toBe(true);
    expect(await pinMatches('246811', SAMPLE_PIN_HASH)).toBe(false);
    expect(staffRosterSchema.safeParse(SAMPLE_STAFF_ROSTER).success).toBe(true);
  });

  it('a hash matches its PIN only; each is salted anew', async () => {
    const one = await hashPin('1234', CHEAP);
    const two = await hashPin('1234', CHEAP);
    expect(one.salt).not.toBe(two.salt);
    expect(pinHashSchema.parse(one)).toEqual(one);
    expect(await pinMatches('1234', one)).toBe(true);
    expect(await pinMatches('1234', two)).toBe(true);
    expect(await pinMatches('12345', one)).toBe(false);
  });

  it.each([
    ['a cost too cheap to slow a guesser', { N: 1024 }, 'N'],
    ['a cost not a power of two', { N: 5000 }, 'N'],
    ['a cost that would exhaust the Pi', { N: 2 ** 20 }, 'N'],
    ['a block size past 8', { r: 16 }, 'r'],
    ['a short salt', { salt: 'c2FsdA==' }, 'salt'],
    ['a hash that is not base64', { hash: 'not base64!' }, 'hash'],
    ['another KDF', { kdf: 'md5' }, 'kdf'],
  ])('the roster refuses %s, naming the field', (_what, change, field) => {
    const result = explain(pinHashSchema, { ...SAMPLE_PIN_HASH, ...change });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.join('; ')).toContain(field);
  });

  it('a roster that lists a staff id twice is refused at the second', () => {
    const member = SAMPLE_STAFF_ROSTER.staff[0]!;
    const result = explain(staffRosterSchema, { version: 'x', staff: [member, { ...member, name: '另一人' }] });
    expect(result).toMatchObject({ ok: false, problems: [expect.stringMatching(/^staff\.1\.staffId: staff S1001 is listed twice/)] });
  });
});

describe('the staff roster as the province sent it', () => {
  const roster = { version: 'r7', staff: [SAMPLE_STAFF_ROSTER.staff[0]!] };

  it('is kept across a restart; a config without one leaves it; the log says its version and size, never a hash', () => {
    const settings = new Settings(openDatabase(':memory:'));
    const logged: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logged.push(line) });
    const store = new StaffRosterStore(settings, logger);
    expect(store.current()).toBeNull();
    store.adopt(provinceConfigSchema.parse({ staffRoster: roster }));
    store.adopt({ reasonCatalog: { version: '1', reasons: [{ code: 'R1', label: '态度差' }] } });
    expect(new StaffRosterStore(settings, silentLogger).current()).toEqual(roster);
    expect(logged.join('')).toContain('"version":"r7","staff":1');
    expect(logged.join('')).not.toContain(SAMPLE_PIN_HASH.hash);
  });

  it('a row edited on the Pi into something that is not a roster is not trusted: none until the province sends it again', () => {
    const settings = new Settings(openDatabase(':memory:'));
    settings.set('province.staffRoster', JSON.stringify({ version: 'r7', staff: [{ staffId: 'S1', name: 'x', pin: '1234' }] }));
    expect(new StaffRosterStore(settings, silentLogger).current()).toBeNull();
    settings.set('province.staffRoster', '{not json');
    expect(new StaffRosterStore(settings, silentLogger).current()).toBeNull();
  });
});

describe('token files (http.businessTokenFile, http.technicianTokenFile)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcp-token-'));
  const file = (name: string, text: string, mode = 0o600): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };

  it('reads the one token, trimmed', () => {
    expect(readTokenFile(file('ok', 'technician-token-0001\n'), 'http.technicianTokenFile')).toBe('technician-token-0001');
  });

  it.each([
    ['missing', () => join(dir, 'nope'), /http\.technicianTokenFile: cannot read/],
    ['readable by any user', () => file('open', 'technician-token-0001', 0o644), /chmod 600/],
    ['too short', () => file('short', 'short'), /16 or more characters/],
    ['two words', () => file('two', 'technician-token 0001'), /without spaces/],
    ['a folder', () => dir, /not a regular file/],
  ])('refuses a file %s as a setting, naming it', (_what, path, message) => {
    expect(() => readTokenFile(path(), 'http.technicianTokenFile')).toThrow(ConfigError);
    expect(() => readTokenFile(path(), 'http.technicianTokenFile')).toThrow(message);
  });
});

describe('FailureLimiter', () => {
  it('holds a key after its failures fill the window, until the oldest leaves it', () => {
    let now = 0;
    const limiter = new FailureLimiter({ maxFailures: 3, windowMs: 1000, maxKeys: 10 }, () => now);
    for (const at of [0, 100, 200]) {
      now = at;
      expect(limiter.retryAfterMs('a')).toBe(0);
      limiter.fail('a');
    }
    expect(limiter.retryAfterMs('a')).toBe(800);
    expect(limiter.retryAfterMs('b')).toBe(0);
    now = 1000;
    expect(limiter.retryAfterMs('a')).toBe(0);
    limiter.fail('a');
    expect(limiter.retryAfterMs('a')).toBe(100);
    limiter.forget('a');
    expect(limiter.retryAfterMs('a')).toBe(0);
  });

  it('remembers at most maxKeys keys: a flood of other keys neither pushes a guessed key out nor lets new ones in until some go stale', () => {
    let now = 0;
    const limiter = new FailureLimiter({ maxFailures: 2, windowMs: 1000, maxKeys: 3 }, () => now);
    limiter.fail('victim');
    limiter.fail('victim');
    now = 100;
    for (const key of ['x1', 'x2', 'x3', 'x4']) limiter.fail(key);
    expect(limiter.retryAfterMs('victim')).toBe(900);
    // Full of recent keys: one it has no room for is held until the oldest goes stale.
    expect(limiter.retryAfterMs('x4')).toBe(900);
    expect(limiter.retryAfterMs('staff')).toBe(900);
    expect(limiter.retryAfterMs('x1')).toBe(0);
    now = 1000;
    expect(limiter.retryAfterMs('staff')).toBe(0);
    expect(limiter.retryAfterMs('victim')).toBe(0);
  });
});

describe('the callers\' tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcp-callers-'));
  const tokenFile = (name: string, token: string): string => {
    const path = join(dir, name);
    writeFileSync(path, token, { mode: 0o600 });
    return path;
  };

  it('reads each from its file; none when not set', () => {
    expect(callerTokens({ businessTokenFile: tokenFile('b', 'business-token-00001'), technicianTokenFile: tokenFile('t', 'technician-token-0001') })).toEqual({
      businessToken: 'business-token-00001',
      technicianToken: 'technician-token-0001',
    });
    expect(callerTokens({})).toEqual({ businessToken: undefined, technicianToken: undefined });
  });

  it('refuses a token shared by two callers, naming both: the console would sign in without a PIN or make test invitations', () => {
    expect(() => callerTokens({ token: 'the-same-token-00001', businessTokenFile: tokenFile('b2', 'the-same-token-00001') })).toThrow('http.businessTokenFile holds the same token as http.token');
    expect(() => callerTokens({ businessTokenFile: tokenFile('b3', 'the-same-token-00002'), technicianTokenFile: tokenFile('t3', 'the-same-token-00002') })).toThrow(
      'http.technicianTokenFile holds the same token as http.businessTokenFile',
    );
  });
});

describe('StaffSignIn', () => {
  it('hashes PINs one at a time: a flood of made-up ids never runs scrypt side by side', async () => {
    let running = 0;
    let most = 0;
    const releases: Array<() => void> = [];
    const signIn = new StaffSignIn({
      roster: () => SAMPLE_STAFF_ROSTER,
      allowUnverified: false,
      now: () => 0,
      checkPin: async () => {
        running += 1;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running -= 1;
        return false;
      },
    });
    const verdicts = Array.from({ length: 20 }, (_, i) => signIn.verify(`NOBODY-${i}`, '000000', false));
    // Release each hash as it starts; only ever one is waiting.
    for (let done = 0; done < 20; done += 1) {
      await vi.waitFor(() => expect(releases.length).toBe(done + 1));
      releases[done]!();
    }
    expect((await Promise.all(verdicts)).every((v) => !v.ok && v.code === 'staff_not_verified')).toBe(true);
    expect(most).toBe(1);
    expect(signIn.failures).toBe(20);
  });
});
