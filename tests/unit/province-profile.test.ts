import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../bridge/config.js';
import { writeProvinceKeyFile, KeyFileExists } from '../../gateway/province/keygen.js';
import { deptCodeFor, loadProvinceProfile, parseProvinceProfile } from '../../gateway/province/profile.js';
import { loadProvinceSecrets } from '../../gateway/province/secrets.js';
import { sm2PublicKeyOf } from '../../gateway/province/sm2.js';
import { formatProvinceTime, parseProvinceTime } from '../../gateway/province/time-format.js';
import { fillUrlTemplate, UrlTemplateError } from '../../protocol/url-template.js';
import { GMT_PRIVATE_KEY, GMT_PUBLIC_KEY, NATIONAL_PATH, OTHER_PATH } from './province-fixture.js';

const minimal = () => ({
  name: 'lab',
  endpoints: { service: 'https://p.example/s', evaluation: 'https://p.example/e' },
  appMark: 'M1',
  appWordEnv: 'HCP_APPWORD',
  sm2: { privateKeyFile: 'key.hex', publicKey: GMT_PUBLIC_KEY },
  dataSource: '370',
  channels: { counter: 4 },
  satisfaction: 'five_is_best',
  deptCode: 'D1',
});

/** The problems a refused profile lists. */
function problems(input: unknown): string[] {
  try {
    parseProvinceProfile(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('the profile was accepted');
}

describe('province profile', () => {
  it('loads both samples of docs/province-profiles with their codes', () => {
    const national = loadProvinceProfile(NATIONAL_PATH);
    expect(national).toMatchObject({ channels: { counter: 4, receiptQr: 3 }, satisfaction: 'five_is_best', itemCode: { split: false }, rateLater: { mode: 'gateway', periodDays: 7 } });
    expect(national.sm2.signatureFormat).toBe('raw_hex');
    const other = loadProvinceProfile(OTHER_PATH);
    expect(other).toMatchObject({ channels: { counter: 5 }, satisfaction: 'one_is_best', itemCode: { split: true, length: 33, taskCodeLength: 31 }, followUp: { allowed: true }, rateLater: { mode: 'province' } });
    expect(other.reasons.codes).toMatchObject({ R01: '501', R02: '502' });
    expect(other.appWordEnv).toBe('HCP_PROVINCE_APPWORD');
  });

  it('fills the defaults an operator may leave out', () => {
    const profile = parseProvinceProfile(minimal());
    expect(profile).toMatchObject({
      allowInsecureHttp: false,
      areaCodeDigits: 12,
      time: { envelope: 'yyyyMMddHHmmss', fields: 'yyyy-MM-dd HH:mm:ss', windowSeconds: 300 },
      sm2: { signatureFormat: 'raw_hex', userId: '1234567812345678' },
      reasons: { codes: {}, labelsInText: true, noReasonText: '未选择原因' },
      notRated: 'service_only',
      cancelled: 'service_only',
      followUp: { allowed: false },
      http: { timeoutMs: 15_000, perSecond: 5, maxAttemptsBeforeAlert: 10, backoff: { baseMs: 5_000, maxMs: 3_600_000 } },
    });
    expect(profile.answers.duplicatePatterns).toContain('本次服务已存在评价');
  });

  it('makes relative file paths absolute from the profile folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hcp-profile-'));
    try {
      const path = join(dir, 'p.yaml');
      writeFileSync(path, stringify({ ...minimal(), appWordEnv: undefined, appWordFile: 'secret/appword' }));
      const profile = loadProvinceProfile(path);
      expect(profile.appWordFile).toBe(join(dir, 'secret/appword'));
      expect(profile.sm2.privateKeyFile).toBe(join(dir, 'key.hex'));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it.each([
    ['both appWord sources', { appWordFile: '/x' }, /^appWordFile: give appWordFile .* or appWordEnv/],
    ['an http endpoint', { endpoints: { service: 'http://p.example/s', evaluation: 'https://p.example/e' } }, /^endpoints\.service: http:\/\/ sends/],
    ['a counter channel of 3', { channels: { counter: 3 } }, /^channels\.counter: expected 4 .* or 5/],
    ['a receipt channel of 2', { channels: { counter: 4, receiptQr: 2 } }, /^channels\.receiptQr: a receipt QR rating is pf 3/],
    ['dataSource as a number', { dataSource: 370 }, /^dataSource: /],
    ['a 2-digit dataSource', { dataSource: '37' }, /^dataSource: expected the 3-digit/],
    ['an unknown satisfaction', { satisfaction: 'high' }, /^satisfaction: expected five_is_best/],
    ['a bad public key', { sm2: { privateKeyFile: 'k', publicKey: '04abc' } }, /^sm2\.publicKey: expected the SM2 public key in hex/],
    ['an unknown signature format', { sm2: { privateKeyFile: 'k', publicKey: GMT_PUBLIC_KEY, signatureFormat: 'base64' } }, /^sm2\.signatureFormat: /],
    ['no deptCode at all', { deptCode: undefined }, /^deptCode: give deptCode/],
    ['an unknown field', { proxy: 'x' }, /Unrecognized key.*proxy/],
    ['a control character in appMark', { appMark: 'M\n1' }, /^appMark: appMark contains a control character/],
    ['province mode without template', { rateLater: { mode: 'province' } }, /^rateLater\.urlTemplate: rateLater\.mode province needs urlTemplate/],
    ['an unknown placeholder', { rateLater: { mode: 'province', urlTemplate: 'https://p.example/pj?x={idCard}' } }, /unknown placeholder \{idCard\}/],
    ['an http page template', { rateLater: { urlTemplate: 'http://p.example/pj?x={caseNo}' } }, /^rateLater\.urlTemplate: use https:\/\//],
    ['a split shorter than taskCode', { itemCode: { split: true, length: 20, taskCodeLength: 31 } }, /^itemCode\.taskCodeLength: taskCodeLength must be less than length/],
    ['an evalDetail code with a comma', { reasons: { codes: { R01: '5,01' } } }, /^reasons\.codes\.R01: an evalDetail code cannot hold a comma/],
    ['backoff max below base', { http: { backoff: { baseMs: 1000, maxMs: 500 } } }, /^http\.backoff\.maxMs: maxMs must be at least baseMs/],
  ])('refuses %s, naming the field', (_what, change, message) => {
    const found = problems({ ...minimal(), ...change });
    expect(found.some((p) => message.test(p)), found.join('\n')).toBe(true);
  });

  it('requires one appWord source', () => {
    expect(problems({ ...minimal(), appWordEnv: undefined })).toContainEqual(expect.stringMatching(/^appWordFile: give appWordFile/));
  });

  it('takes http endpoints and templates with allowInsecureHttp (the emulator)', () => {
    const profile = parseProvinceProfile({ ...minimal(), allowInsecureHttp: true, endpoints: { service: 'http://127.0.0.1:1/s', evaluation: 'http://127.0.0.1:1/e' }, rateLater: { mode: 'province', urlTemplate: 'http://127.0.0.1:1/pj?p={caseNo}' } });
    expect(profile.endpoints.service).toBe('http://127.0.0.1:1/s');
  });

  it('names the file of a profile that is not YAML, or not a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hcp-profile-'));
    try {
      writeFileSync(join(dir, 'bad.yaml'), 'name: [unclosed');
      expect(() => loadProvinceProfile(join(dir, 'bad.yaml'))).toThrow(/bad\.yaml is not valid YAML/);
      expect(() => loadProvinceProfile(dir)).toThrow(/is not a regular file/);
      expect(() => loadProvinceProfile(join(dir, 'none.yaml'))).toThrow(ConfigError);
      writeFileSync(join(dir, 'p.yaml'), stringify({ ...minimal(), dataSource: 'abc' }));
      expect(() => loadProvinceProfile(join(dir, 'p.yaml'))).toThrow(/province profile .*p\.yaml is invalid:\n {2}- dataSource: /);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('gives a hall its own deptCode, else the default', () => {
    const profile = parseProvinceProfile({ ...minimal(), halls: { H2: { deptCode: 'D2' } } });
    expect(deptCodeFor(profile, 'H2')).toBe('D2');
    expect(deptCodeFor(profile, 'H9')).toBe('D1');
    expect(deptCodeFor(profile, '__proto__')).toBe('D1');
    const noDefault = parseProvinceProfile({ ...minimal(), deptCode: undefined, halls: { H2: { deptCode: 'D2' } } });
    expect(deptCodeFor(noDefault, 'H9')).toBeUndefined();
  });
});

describe('province secrets', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function setUp(options: { keyText?: string; keyMode?: number; appWord?: string; appWordMode?: number } = {}) {
    dir = mkdtempSync(join(tmpdir(), 'hcp-secrets-'));
    const keyFile = join(dir, 'key.hex');
    writeFileSync(keyFile, options.keyText ?? `${GMT_PRIVATE_KEY.toUpperCase()}\n`);
    chmodSync(keyFile, options.keyMode ?? 0o600);
    const appWordFile = join(dir, 'appword');
    writeFileSync(appWordFile, options.appWord ?? 'the-appword\n');
    chmodSync(appWordFile, options.appWordMode ?? 0o600);
    return parseProvinceProfile({ ...minimal(), appWordEnv: undefined, appWordFile, sm2: { privateKeyFile: keyFile, publicKey: GMT_PUBLIC_KEY } });
  }

  it('reads the appWord and the key, and checks the key is the profile’s public key', () => {
    expect(loadProvinceSecrets(setUp())).toEqual({ appWord: 'the-appword', privateKey: GMT_PRIVATE_KEY });
  });

  it('reads the appWord from the environment variable the profile names', () => {
    const profile = setUp();
    const fromEnv = parseProvinceProfile({ ...minimal(), sm2: { privateKeyFile: profile.sm2.privateKeyFile, publicKey: GMT_PUBLIC_KEY } });
    expect(loadProvinceSecrets(fromEnv, { HCP_APPWORD: 'from-env' }).appWord).toBe('from-env');
    expect(() => loadProvinceSecrets(fromEnv, {})).toThrow(/appWordEnv: the environment variable HCP_APPWORD is not set/);
    expect(() => loadProvinceSecrets(fromEnv, { HCP_APPWORD: 'a\nb' })).toThrow(/control character/);
  });

  it('refuses files others may read, naming the field and never the secret', () => {
    expect(() => loadProvinceSecrets(setUp({ keyMode: 0o644 }))).toThrow(/sm2\.privateKeyFile .*chmod 600/);
    let message = '';
    try {
      loadProvinceSecrets(setUp({ appWordMode: 0o640 }));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/appWordFile .*chmod 600/);
    expect(message).not.toContain('the-appword');
  });

  it('refuses a key that is not one, or not the profile’s', () => {
    expect(() => loadProvinceSecrets(setUp({ keyText: 'zz' }))).toThrow(/does not hold an SM2 private key/);
    expect(() => loadProvinceSecrets(setUp({ keyText: '0'.repeat(64) }))).toThrow(/does not hold an SM2 private key/);
    expect(() => loadProvinceSecrets(setUp({ keyText: '1'.repeat(64) }))).toThrow(/sm2\.publicKey is not the public key of sm2\.privateKeyFile/);
    expect(() => loadProvinceSecrets(setUp({ appWord: '\n' }))).toThrow(/is empty/);
  });

  it('keygen writes a new key file, mode 600, whose public key it returns; never over an existing one', () => {
    dir = mkdtempSync(join(tmpdir(), 'hcp-keygen-'));
    const path = join(dir, 'key.hex');
    const { publicKey } = writeProvinceKeyFile(path, (n) => new Uint8Array(n).fill(7));
    const profile = parseProvinceProfile({ ...minimal(), sm2: { privateKeyFile: path, publicKey } });
    expect(loadProvinceSecrets(profile, { HCP_APPWORD: 'w' }).privateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(sm2PublicKeyOf(loadProvinceSecrets(profile, { HCP_APPWORD: 'w' }).privateKey)).toBe(publicKey);
    expect(() => writeProvinceKeyFile(path)).toThrow(KeyFileExists);
  });
});

describe('province times and page templates', () => {
  const at = new Date('2026-11-30T16:05:09.123Z');

  it('writes China Standard Time in each format, and reads it back', () => {
    expect(formatProvinceTime(at, 'yyyyMMddHHmmss')).toBe('20261201000509');
    expect(formatProvinceTime(at, 'yyyy-MM-dd HH:mm:ss')).toBe('2026-12-01 00:05:09');
    expect(formatProvinceTime(at, 'epochMillis')).toBe(String(at.getTime()));
    expect(parseProvinceTime('20261201000509', 'yyyyMMddHHmmss')?.toISOString()).toBe('2026-11-30T16:05:09.000Z');
    expect(parseProvinceTime('2026-12-01 00:05:09', 'yyyy-MM-dd HH:mm:ss')?.toISOString()).toBe('2026-11-30T16:05:09.000Z');
    expect(parseProvinceTime('20260230000000', 'yyyyMMddHHmmss')).toBeUndefined();
    expect(parseProvinceTime('2026-12-01T00:05:09', 'yyyy-MM-dd HH:mm:ss')).toBeUndefined();
    expect(() => formatProvinceTime(new Date(NaN), 'yyyyMMddHHmmss')).toThrow(RangeError);
  });

  it('fills a page template, percent-encoding values; a missing value is an error', () => {
    const template = 'https://pj.example/pj?projectNo={caseNo}&areaCode={areaCode}';
    expect(fillUrlTemplate(template, { caseNo: 'A 1&b=2', areaCode: '370102000000' })).toBe('https://pj.example/pj?projectNo=A%201%26b%3D2&areaCode=370102000000');
    expect(() => fillUrlTemplate(template, { areaCode: '370102000000' })).toThrow(UrlTemplateError);
    expect(() => fillUrlTemplate('https://x/{constructor}', {})).toThrow(/needs \{constructor\}/);
  });
});
