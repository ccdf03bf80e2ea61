import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';

/*
 * Dashboard passwords, kept only as scrypt's output (node:crypto: no package to keep up). The
 * stored text carries its own parameters and salt, PHC style:
 *   $scrypt$ln=15,r=8,p=1$<salt, base64>$<key, base64>
 * so the parameters can be raised later and old hashes still verify.
 */

export interface ScryptParams {
  /** log2 of N, the CPU and memory cost. */
  ln: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/** N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s per check on a server core (docs/accounts.md). */
export const SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ ln: 15, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** What a stored text may ask of verifyPassword: a damaged row must not make it allocate gigabytes. */
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16] } as const;
const STORED = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,64})\$([A-Za-z0-9+/]{16,128})$/;

export const PASSWORD_MIN_CHARS = 10;
export const PASSWORD_MAX_CHARS = 128;

/**
 * The policy: 10 to 128 characters, not only spaces, no control characters (a password read from a
 * line cannot hold a line break, and a NUL or an escape is a paste gone wrong). Any script is fine:
 * 中文 passwords are compared after Unicode normalisation (NFC).
 */
export const passwordSchema = z
  .string()
  .refine((pw) => [...pw].length >= PASSWORD_MIN_CHARS, `at least ${PASSWORD_MIN_CHARS} characters`)
  .refine((pw) => [...pw].length <= PASSWORD_MAX_CHARS, `at most ${PASSWORD_MAX_CHARS} characters`)
  .refine((pw) => !/\p{Cc}/u.test(pw), 'no control characters (line breaks, tabs, NUL, escapes)')
  .refine((pw) => pw.trim() !== '', 'not only spaces');

/** The stored text for a password (a fresh salt each time). `params` only for tests and future raises. */
export async function hashPassword(pw: string, params: ScryptParams = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(pw, salt, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/** Whether `pw` is the password `stored` was made from; a stored text it cannot read is false, never an error. */
export async function verifyPassword(pw: string, stored: string): Promise<boolean> {
  const parsed = parseStored(stored);
  if (!parsed) return false;
  const key = await derive(pw, parsed.salt, parsed.params, parsed.key.length);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

function parseStored(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const m = typeof stored === 'string' ? STORED.exec(stored) : null;
  if (!m) return undefined;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  const within = (Object.keys(LIMITS) as (keyof ScryptParams)[]).every((k) => params[k] >= LIMITS[k][0] && params[k] <= LIMITS[k][1]);
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  // A shortened key would still match its prefix of a right one: the key is whole or refused.
  if (!within || salt.length < 8 || key.length < KEY_BYTES) return undefined;
  return { params, salt, key };
}

function derive(pw: string, salt: Buffer, { ln, r, p }: ScryptParams, length = KEY_BYTES): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** ln, r, p, maxmem: 256 * r * 2 ** ln };
  return new Promise((resolve, reject) => {
    scrypt(pw.normalize('NFC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const b64 = (bytes: Buffer): string => bytes.toString('base64').replace(/=+$/, '');
