import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lineSession, lineTagger, sealFrameJson, TAG_HEX_LENGTH, verifyFrameJson } from '../../protocol/line-auth.js';

/** Both halves under one key, as the two ends of a paired line hold them. */
function lineAuth(key: string) {
  const tagger = lineTagger(key);
  return { seal: (session: string, json: string) => sealFrameJson(tagger, session, json), verify: (session: string, json: string) => verifyFrameJson(tagger, session, json) };
}
import { hmacSha256, IV, K, sha256 } from '../../protocol/line-auth-sha256.js';

const KEY = '0f'.repeat(32);
const latin1 = (bytes: string): Buffer => Buffer.from(bytes, 'latin1');
/** Any string of 8-bit characters, as the line carries them. */
const byteString = (maxLength: number) => fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes).toString('latin1'));

describe('SHA-256 and HMAC-SHA256 (protocol/line-auth-sha256.ts)', () => {
  it('compute the standard constants (FIPS 180-4 4.2.2, 5.3.3) from the primes', () => {
    const hex = (words: Int32Array) => Array.from(words, (w) => (w >>> 0).toString(16).padStart(8, '0'));
    expect(hex(IV)).toEqual(['6a09e667', 'bb67ae85', '3c6ef372', 'a54ff53a', '510e527f', '9b05688c', '1f83d9ab', '5be0cd19']);
    expect(hex(K).slice(0, 4)).toEqual(['428a2f98', '71374491', 'b5c0fbcf', 'e9b5dba5']);
    expect(hex(K).slice(-4)).toEqual(['90befffa', 'a4506ceb', 'bef9a3f7', 'c67178f2']);
    expect(K).toHaveLength(64);
  });

  it('agree with node:crypto on the FIPS and RFC 4231 vectors', () => {
    expect(latin1(sha256('')).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(latin1(sha256('abc')).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    // RFC 4231 test case 2: key "Jefe".
    expect(latin1(hmacSha256('Jefe')('what do ya want for nothing?')).toString('hex')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('agree with node:crypto for any key and message, across block boundaries', () => {
    fc.assert(
      fc.property(byteString(64), byteString(300), (key, message) => {
        expect(latin1(sha256(message)).equals(createHash('sha256').update(latin1(message)).digest())).toBe(true);
        expect(latin1(hmacSha256(key)(message)).equals(createHmac('sha256', latin1(key)).update(latin1(message)).digest())).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('line tags (protocol/line-auth.ts)', () => {
  const auth = lineAuth(KEY);
  const json = '{"type":"rating","seq":3,"inv":"i-1","grade":"dissatisfied","latencyMs":900,"reason":2}';
  const session = lineSession('AAAA0000', 'bbbb1111');

  it('appends the tag as the last member, 64 bits of HMAC-SHA256 over the session and the untagged JSON', () => {
    const sealed = auth.seal(session, json);
    const tag = createHmac('sha256', Buffer.from(KEY, 'hex')).update(`aaaa0000.bbbb1111\n${json}`).digest('hex').slice(0, TAG_HEX_LENGTH);
    expect(sealed).toBe(`${json.slice(0, -1)},"mac":"${tag}"}`);
    expect(JSON.parse(sealed)).toMatchObject({ grade: 'dissatisfied', mac: tag });
    expect(auth.verify(session, sealed)).toBe(true);
  });

  it('refuses the frame in another session, under another key, untagged, or changed anywhere', () => {
    const sealed = auth.seal(session, json);
    expect(auth.verify(lineSession('aaaa0000', 'bbbb1112'), sealed)).toBe(false);
    expect(lineAuth('1f'.repeat(32)).verify(session, sealed)).toBe(false);
    expect(auth.verify(session, json)).toBe(false);
    expect(auth.verify(session, sealed.replace('dissatisfied', 'very_satisfied'))).toBe(false);
    expect(auth.verify(session, sealed.replace(/"mac":"(.)/, (_m, c: string) => `"mac":"${c === 'a' ? 'b' : 'a'}`))).toBe(false);
    expect(auth.verify(session, sealed.toUpperCase())).toBe(false);
  });

  it('refuses an HMAC key over one block', () => {
    expect(() => hmacSha256('k'.repeat(65))).toThrow(/at most 64 bytes/);
  });

  it('refuses a key that is not 64 lower-case hex digits', () => {
    expect(() => lineAuth('0F'.repeat(32))).toThrow(/64 lower-case hex/);
    expect(() => lineAuth('0f'.repeat(31))).toThrow(/64 lower-case hex/);
  });

  it('a frame changed in any way, or any text at all, never passes without the key', () => {
    const sealed = auth.seal(session, json);
    fc.assert(
      fc.property(fc.nat({ max: sealed.length - 1 }), fc.integer({ min: 0x20, max: 0x7e }), fc.string({ maxLength: 600 }), (at, code, junk) => {
        const changed = sealed.slice(0, at) + String.fromCharCode(code) + sealed.slice(at + 1);
        if (changed !== sealed) expect(auth.verify(session, changed)).toBe(false);
        expect(auth.verify(session, junk)).toBe(false);
        expect(auth.verify(session, `${junk},"mac":"0123456789abcdef"}`)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
