import { describe, expect, it } from 'vitest';
import { makeEnvelope, signedText } from '../../gateway/province/envelope.js';
import {
  generateSm2KeyPair,
  isSm2PrivateKeyHex,
  isSm2PublicKeyHex,
  sameSm2PublicKey,
  sm2PublicKeyOf,
  sm2Sign,
  sm2Verify,
  sm3Hex,
  type Sm2SignatureFormat,
} from '../../gateway/province/sm2.js';
import { GMT_PRIVATE_KEY, GMT_PUBLIC_KEY, sampleProfile, TEST_SECRETS } from './province-fixture.js';

/** GM/T 0003.5-2012 Annex A: the signature example on the recommended curve. */
const GMT = {
  message: 'message digest',
  k: 0x59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21n,
  r: 'f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3',
  s: 'b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa',
};
const FORMATS: Sm2SignatureFormat[] = ['raw_hex', 'der_hex', 'der_base64'];

describe('SM3 (GM/T 0004 Annex A)', () => {
  it('hashes the standard’s two examples', () => {
    expect(sm3Hex('abc')).toBe('66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
    expect(sm3Hex('abcd'.repeat(16))).toBe('debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732');
  });
});

describe('SM2 signatures', () => {
  it('derives the standard’s public key from its private key', () => {
    expect(sm2PublicKeyOf(GMT_PRIVATE_KEY)).toBe(GMT_PUBLIC_KEY);
  });

  it('verifies the standard’s published signature, and only over its message and id', () => {
    const signature = GMT.r + GMT.s;
    expect(sm2Verify(GMT.message, signature, GMT_PUBLIC_KEY, { format: 'raw_hex' })).toBe(true);
    expect(sm2Verify(GMT.message, signature.toUpperCase(), GMT_PUBLIC_KEY, { format: 'raw_hex' })).toBe(true);
    expect(sm2Verify('message digesT', signature, GMT_PUBLIC_KEY, { format: 'raw_hex' })).toBe(false);
    expect(sm2Verify(GMT.message, signature, GMT_PUBLIC_KEY, { format: 'raw_hex', userId: '8765432187654321' })).toBe(false);
    expect(sm2Verify(GMT.message, GMT.s + GMT.r, GMT_PUBLIC_KEY, { format: 'raw_hex' })).toBe(false);
  });

  it('makes the standard’s signature given its k', () => {
    const kG = sm2PublicKeyOf(GMT.k.toString(16).padStart(64, '0'));
    const x1 = BigInt(`0x${kG.slice(2, 66)}`);
    expect(sm2Sign(GMT.message, GMT_PRIVATE_KEY, { format: 'raw_hex' }, { k: GMT.k, x1 })).toBe(GMT.r + GMT.s);
  });

  it.each(FORMATS)('signs and verifies in %s, any text', (format) => {
    const { privateKey, publicKey } = generateSm2KeyPair();
    for (const message of ['', '20261130120501HCP-HALL-0001appword', '好差评 本次服务 🙂']) {
      const signature = sm2Sign(message, privateKey, { format });
      expect(sm2Verify(message, signature, publicKey, { format })).toBe(true);
      expect(sm2Verify(`${message}x`, signature, publicKey, { format })).toBe(false);
      expect(sm2Verify(message, signature, GMT_PUBLIC_KEY, { format })).toBe(false);
    }
  });

  it('writes each format as documented', () => {
    expect(sm2Sign('m', GMT_PRIVATE_KEY, { format: 'raw_hex' })).toMatch(/^[0-9a-f]{128}$/);
    expect(sm2Sign('m', GMT_PRIVATE_KEY, { format: 'der_hex' })).toMatch(/^30[0-9a-f]{2}02/);
    expect(Buffer.from(sm2Sign('m', GMT_PRIVATE_KEY, { format: 'der_base64' }), 'base64')[0]).toBe(0x30);
  });

  it('says false, never throws, for signatures in another format or malformed', () => {
    const raw = sm2Sign('m', GMT_PRIVATE_KEY, { format: 'raw_hex' });
    const der = sm2Sign('m', GMT_PRIVATE_KEY, { format: 'der_hex' });
    expect(sm2Verify('m', raw, GMT_PUBLIC_KEY, { format: 'der_hex' })).toBe(false);
    expect(sm2Verify('m', der, GMT_PUBLIC_KEY, { format: 'raw_hex' })).toBe(false);
    for (const bad of ['', 'zz', '30', '3006020100020100', '0'.repeat(128), 'f'.repeat(128), '30' + 'ff'.repeat(71), '====']) {
      for (const format of FORMATS) expect(sm2Verify('m', bad, GMT_PUBLIC_KEY, { format })).toBe(false);
    }
    expect(sm2Verify('m', raw, '04' + '00'.repeat(64), { format: 'raw_hex' })).toBe(false);
    expect(sm2Verify('m', raw, 'not a key', { format: 'raw_hex' })).toBe(false);
  });

  it('tells keys from non-keys', () => {
    expect(isSm2PrivateKeyHex(GMT_PRIVATE_KEY)).toBe(true);
    expect(isSm2PrivateKeyHex('0'.repeat(64))).toBe(false);
    expect(isSm2PrivateKeyHex('f'.repeat(64))).toBe(false);
    expect(isSm2PrivateKeyHex(GMT_PRIVATE_KEY.toUpperCase())).toBe(false);
    expect(isSm2PublicKeyHex(GMT_PUBLIC_KEY)).toBe(true);
    expect(isSm2PublicKeyHex(`04${'11'.repeat(64)}`)).toBe(false);
    const compressed = (BigInt(`0x${GMT_PUBLIC_KEY.slice(66)}`) % 2n === 0n ? '02' : '03') + GMT_PUBLIC_KEY.slice(2, 66);
    expect(isSm2PublicKeyHex(compressed)).toBe(true);
    expect(sameSm2PublicKey(compressed, GMT_PUBLIC_KEY)).toBe(true);
    expect(sameSm2PublicKey('04zz', GMT_PUBLIC_KEY)).toBe(false);
  });

  it('makes key pairs from its random source, in range', () => {
    const fixed = generateSm2KeyPair((n) => new Uint8Array(n).fill(0xab));
    expect(generateSm2KeyPair((n) => new Uint8Array(n).fill(0xab))).toEqual(fixed);
    expect(sm2PublicKeyOf(fixed.privateKey)).toBe(fixed.publicKey);
    expect(isSm2PrivateKeyHex(generateSm2KeyPair((n) => new Uint8Array(n)).privateKey)).toBe(true);
    expect(isSm2PrivateKeyHex(generateSm2KeyPair((n) => new Uint8Array(n).fill(0xff)).privateKey)).toBe(true);
    expect(generateSm2KeyPair().privateKey).not.toBe(generateSm2KeyPair().privateKey);
  });
});

describe('the envelope', () => {
  it('signs time + appMark + appWord at the clock’s time, in the profile’s formats', () => {
    for (const which of ['national', 'other'] as const) {
      const profile = sampleProfile(which);
      const envelope = makeEnvelope(profile, TEST_SECRETS, { projectNo: 'P1' }, new Date('2026-11-30T04:05:01.900Z'));
      expect(envelope).toMatchObject({ appMark: profile.appMark, time: '20261130120501', data: { projectNo: 'P1' } });
      const text = signedText(envelope.time, profile.appMark, TEST_SECRETS.appWord);
      expect(text).toBe(`20261130120501${profile.appMark}appword-for-tests`);
      expect(sm2Verify(text, envelope.sign, GMT_PUBLIC_KEY, { format: profile.sm2.signatureFormat })).toBe(true);
      expect(sm2Verify(`${text}x`, envelope.sign, GMT_PUBLIC_KEY, { format: profile.sm2.signatureFormat })).toBe(false);
      expect(JSON.stringify(envelope)).not.toContain('appword-for-tests');
    }
  });

  it('uses the profile’s user id', () => {
    const profile = sampleProfile('national', (p) => Object.assign(p.sm2 as object, { userId: 'ALICE123@YAHOO.COM' }));
    const envelope = makeEnvelope(profile, TEST_SECRETS, {}, new Date('2026-11-30T04:05:01Z'));
    const text = signedText(envelope.time, profile.appMark, TEST_SECRETS.appWord);
    expect(sm2Verify(text, envelope.sign, GMT_PUBLIC_KEY, { format: 'raw_hex', userId: 'ALICE123@YAHOO.COM' })).toBe(true);
    expect(sm2Verify(text, envelope.sign, GMT_PUBLIC_KEY, { format: 'raw_hex' })).toBe(false);
  });
});
