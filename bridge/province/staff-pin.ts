import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { PinHash } from '../../protocol/province-config.js';

/** The cost a roster's PINs are hashed at unless said otherwise: about 16 MB and tens of ms on a Pi. */
export const DEFAULT_PIN_COST = { N: 2 ** 14, r: 8, p: 1 } as const;

function derive(pin: string, salt: Buffer, length: number, cost: Pick<PinHash, 'N' | 'r' | 'p'>): Promise<Buffer> {
  // Node's default memory cap (32 MB) is below what the largest allowed N × r needs.
  const options: ScryptOptions = { ...cost, maxmem: 128 * cost.N * cost.r * (cost.p + 1) + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(pin.normalize('NFKC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** A PIN's hash as a roster carries it (the province's side, and the simulator's). */
export async function hashPin(pin: string, cost: Pick<PinHash, 'N' | 'r' | 'p'> = DEFAULT_PIN_COST, salt: Buffer = randomBytes(16)): Promise<PinHash> {
  const hash = await derive(pin, salt, 32, cost);
  return { kdf: 'scrypt', ...cost, salt: salt.toString('base64'), hash: hash.toString('base64') };
}

/**
 * Whether the PIN is the one hashed. Off the event loop (scrypt runs in libuv's pool), compared in
 * constant time.
 */
export async function pinMatches(pin: string, stored: PinHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'base64');
  const given = await derive(pin, Buffer.from(stored.salt, 'base64'), expected.length, stored);
  return timingSafeEqual(given, expected);
}
