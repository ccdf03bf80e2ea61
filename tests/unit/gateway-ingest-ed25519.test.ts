import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastestEd25519Verify, gatewayEd25519Verify, loadSodium, nodeEd25519Verify, sodiumEd25519Verify, type SodiumVerify } from '../../gateway/ingest/ed25519.js';
import { ed25519Valid, publicKeyBytes, type Ed25519Verify } from '../../protocol/seal/seal.js';
import { testIdentity } from '../support/terminal-key.js';

/*
 * The gateway's Ed25519 verifier: libsodium's where sodium-native loads, node:crypto's where it
 * does not. Both agree with the protocol's pure verifier on every signature a terminal makes
 * (node:crypto's signing, the bridge's) and on altered and random ones; libsodium is never looser
 * than OpenSSL on hostile signatures, and neither ever throws.
 */
const SEED = 20_261_130;
const sodium = loadSodium();
const libsodium = sodium ? sodiumEd25519Verify(sodium) : undefined;
const terminal = testIdentity();
const key = (publicKeyBytes(terminal.publicKey) as { ok: true; key: Uint8Array }).key;

/** The group order L, little-endian bytes. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
function littleEndian(value: bigint): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return bytes;
}
function readLittleEndian(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = 31; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] as number);
  return value;
}

describe('gateway Ed25519 verifier', () => {
  it('sodium-native loads on this platform (the gateway runs with it)', () => {
    expect(sodium).toBeDefined();
    expect(fastestEd25519Verify(sodium).name).toBe('libsodium');
  });

  it('property: libsodium, node:crypto and the pure verifier agree on genuine, altered and random signatures', () => {
    const verifiers: [string, Ed25519Verify][] = [['node', nodeEd25519Verify], ['gateway', gatewayEd25519Verify], ...(libsodium ? [['libsodium', libsodium] as [string, Ed25519Verify]] : [])];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(7), fc.uint8Array({ minLength: 64, maxLength: 64 }), (message, at, flip, random) => {
        const genuine = terminal.sign(message);
        const altered = Uint8Array.from(genuine);
        altered[at % 64]! ^= 1 << flip;
        const otherMessage = Uint8Array.from([...message, 0]);
        for (const [signature, m] of [[genuine, message], [altered, message], [random, message], [genuine, otherMessage]] as const) {
          const expected = ed25519Valid(key, m, signature);
          for (const [name, verify] of verifiers) expect([name, verify(key, m, signature)]).toEqual([name, expected]);
        }
        for (const [, verify] of verifiers) expect(verify(key, message, genuine)).toBe(true);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('refuses, never throws on, signatures and keys of the wrong size', () => {
    const message = new TextEncoder().encode('hcp-record\n{}');
    const genuine = terminal.sign(message);
    for (const verify of [libsodium, nodeEd25519Verify, gatewayEd25519Verify]) {
      if (!verify) continue;
      expect(verify(key, message, genuine)).toBe(true);
      // libsodium alone would read the first 64 bytes of a longer signature and say yes.
      expect(verify(key, message, Uint8Array.from([...genuine, 0]))).toBe(false);
      expect(verify(key, message, genuine.subarray(0, 63))).toBe(false);
      expect(verify(key, message, new Uint8Array(0))).toBe(false);
      expect(verify(key.subarray(0, 31), message, genuine)).toBe(false);
      expect(verify(Uint8Array.from([...key, 0]), message, genuine)).toBe(false);
      expect(verify(new Uint8Array(32), message, genuine)).toBe(false);
    }
  });

  it('refuses a signature whose s is pushed past the group order (s + L: the malleable twin OpenSSL refuses too)', () => {
    const message = new TextEncoder().encode('hcp-record\n{"seq":1}');
    const genuine = terminal.sign(message);
    const s = readLittleEndian(genuine.subarray(32));
    const twin = Uint8Array.from([...genuine.subarray(0, 32), ...littleEndian(s + L)]);
    expect(s + L < 2n ** 256n).toBe(true);
    for (const verify of [libsodium, nodeEd25519Verify, ed25519Valid]) if (verify) expect(verify(key, message, twin)).toBe(false);
  });

  it('refuses the identity key, under which one signature verifies any message (stricter than OpenSSL, which takes it)', () => {
    // A = identity (order 1): [s]B = R + [k]A holds for R = [1]B, s = 1 whatever the message.
    const identity = littleEndian(1n);
    const basepoint = Uint8Array.from(Buffer.from('5866666666666666666666666666666666666666666666666666666666666666', 'hex'));
    const anyMessage = Uint8Array.from([...basepoint, ...littleEndian(1n)]);
    for (const text of ['accepted', 'rejected']) {
      const message = new TextEncoder().encode(text);
      if (libsodium) expect(libsodium(identity, message, anyMessage)).toBe(false);
      expect(gatewayEd25519Verify(identity, message, anyMessage)).toBe(false);
    }
  });

  it('falls back to node:crypto where sodium-native does not load, and that fallback verifies the bridge\'s signatures', () => {
    expect(loadSodium(() => {
      throw new Error('no prebuilt binary for this platform');
    })).toBeUndefined();
    expect(loadSodium(() => ({}))).toBeUndefined();
    const fallback = fastestEd25519Verify(undefined);
    expect(fallback.name).toBe('node:crypto');
    const message = new TextEncoder().encode('hcp-record\n{"seq":2}');
    expect(fallback.verify(key, message, terminal.sign(message))).toBe(true);
    expect(fallback.verify(key, Uint8Array.from([...message, 1]), terminal.sign(message))).toBe(false);
  });

  it('a sodium binding that throws is a refusal, not an exception', () => {
    const throwing: SodiumVerify = {
      crypto_sign_verify_detached: () => {
        throw new Error('assertion');
      },
    };
    expect(sodiumEd25519Verify(throwing)(key, new Uint8Array(1), new Uint8Array(64))).toBe(false);
  });
});
