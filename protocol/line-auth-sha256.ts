/**
 * SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 2104) in plain integer arithmetic, for the serial
 * line's tags. Our own rather than @noble/hashes: this file also runs on the Espruino terminal,
 * whose bundle has about 3 KB of room (docs/espruino.md), and noble's classes lowered to ES5 cost
 * several times this. Checked against node:crypto in tests/unit/line-auth.test.ts and the fuzz suite.
 *
 * Input is a string of 8-bit characters (the line is 7-bit ASCII): each char code is one byte.
 */

/**
 * The first 32 bits of the fractional parts of the roots of the first primes: square roots for
 * the initial hash, cube roots for the round constants (FIPS 180-4 4.2.2, 5.3.3). Computed rather
 * than listed: the table would cost the Espruino bundle 700 bytes; the test checks the values.
 */
function rootWords(count: number, root: number): Int32Array {
  // Int32Arrays here, not arrays: on the terminal's MCU a 64-word table is 19 variables, not 128.
  const words = new Int32Array(count);
  let found = 0;
  for (let n = 2; found < count; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) if (n % d === 0) prime = false;
    if (prime) words[found++] = ((Math.pow(n, 1 / root) % 1) * 0x100000000) | 0;
  }
  return words;
}
export const K = rootWords(64, 3);
export const IV = rootWords(8, 2);

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

/** Folds the 64-byte block of `bytes` at `at` into `h` (8 words, changed in place). */
function compress(h: Int32Array, bytes: string, at: number): void {
  const w = new Int32Array(64);
  for (let i = 0; i < 16; i++) {
    const j = at + i * 4;
    w[i] = (bytes.charCodeAt(j) << 24) | (bytes.charCodeAt(j + 1) << 16) | (bytes.charCodeAt(j + 2) << 8) | bytes.charCodeAt(j + 3);
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15] as number;
    const b = w[i - 2] as number;
    const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
    const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
    w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) | 0;
  }
  // Plain indexing, not destructuring: Babel's ES5 helpers for it would cost the Espruino bundle.
  let a = h[0] as number, b = h[1] as number, c = h[2] as number, d = h[3] as number;
  let e = h[4] as number, f = h[5] as number, g = h[6] as number, k = h[7] as number;
  for (let i = 0; i < 64; i++) {
    const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + (K[i] as number) + (w[i] as number)) | 0;
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    k = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  const out = [a, b, c, d, e, f, g, k];
  for (let i = 0; i < 8; i++) h[i] = ((h[i] as number) + (out[i] as number)) | 0;
}

/**
 * The digest of (whatever `state` has absorbed: `absorbed` bytes, a whole number of blocks)
 * followed by `data`, as a string of 32 bytes. `state` is left as it was.
 */
function finish(state: Int32Array, absorbed: number, data: string): string {
  const h = state.slice();
  const bits = (absorbed + data.length) * 8;
  let tail = data + '\x80';
  while (tail.length % 64 !== 56) tail += '\x00';
  // The length as 64 bits: the high word is 0 for anything below 512 MB.
  tail += '\x00\x00\x00\x00' + String.fromCharCode((bits >>> 24) & 255, (bits >>> 16) & 255, (bits >>> 8) & 255, bits & 255);
  for (let at = 0; at < tail.length; at += 64) compress(h, tail, at);
  let out = '';
  for (let i = 0; i < 8; i++) {
    const x = h[i] as number;
    out += String.fromCharCode((x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255);
  }
  return out;
}

export function sha256(data: string): string {
  return finish(IV, 0, data);
}

/**
 * HMAC-SHA256 with one key of at most 64 bytes (a pairing key is 32): the padded key's two blocks
 * are folded once, not per message.
 */
export function hmacSha256(key: string): (message: string) => string {
  if (key.length > 64) throw new RangeError('an HMAC key here is at most 64 bytes');
  let inner = '';
  let outer = '';
  for (let i = 0; i < 64; i++) {
    const byte = i < key.length ? key.charCodeAt(i) : 0;
    inner += String.fromCharCode(byte ^ 0x36);
    outer += String.fromCharCode(byte ^ 0x5c);
  }
  const innerState = IV.slice();
  compress(innerState, inner, 0);
  const outerState = IV.slice();
  compress(outerState, outer, 0);
  return (message) => finish(outerState, 64, finish(innerState, 64, message));
}
