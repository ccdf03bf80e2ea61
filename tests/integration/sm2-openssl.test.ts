import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedText } from '../../gateway/province/envelope.js';
import { generateSm2KeyPair, sm2PublicKeyOf, sm2Sign, sm2Verify, DEFAULT_SM2_USER_ID } from '../../gateway/province/sm2.js';
import { onCI } from '../support/brokers.js';

/*
 * sm-crypto-v2's SM2 against Debian's OpenSSL 3 (the `openssl` command): a signature made by one
 * verifies with the other, both ways, with the default and another user id (distid), on the text
 * the envelope signs. OpenSSL's SM2 is the reference most provinces' Java stacks (BouncyCastle)
 * agree with, so this is what says our envelopes verify at a province.
 */

/** Whether this machine's openssl makes SM2 keys (OpenSSL 1.1.1+ built with SM2). */
function opensslHasSm2(): boolean {
  const probe = spawnSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2'], { encoding: 'utf8' });
  return probe.status === 0 && probe.stdout.includes('PRIVATE KEY');
}
const available = opensslHasSm2();
if (!available && !onCI()) console.warn('sm2-openssl: skipped, `openssl` is missing or built without SM2 (Debian: apt-get install openssl)');

/** SEC1 ECPrivateKey with the SM2 curve OID (1.2.156.10197.1.301), as DER: what `openssl ec` reads. */
function sec1Der(privateKey: string, publicKey: string): Buffer {
  return Buffer.from(`30770201010420${privateKey}a00a06082a811ccf5501822da144034200${publicKey}`, 'hex');
}

let dir = '';
const file = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** Our key pair as PEM files openssl reads. */
function keyFiles(name: string, pair: { privateKey: string; publicKey: string }): { key: string; pub: string } {
  writeFileSync(file(`${name}.der`), sec1Der(pair.privateKey, pair.publicKey));
  openssl('ec', '-inform', 'DER', '-in', file(`${name}.der`), '-out', file(`${name}.pem`));
  openssl('pkey', '-in', file(`${name}.pem`), '-pubout', '-out', file(`${name}.pub.pem`));
  return { key: file(`${name}.pem`), pub: file(`${name}.pub.pem`) };
}

function opensslVerify(pub: string, message: string, signatureDer: Buffer, distid = DEFAULT_SM2_USER_ID): boolean {
  writeFileSync(file('msg'), message, 'utf8');
  writeFileSync(file('sig'), signatureDer);
  const run = spawnSync('openssl', ['pkeyutl', '-verify', '-rawin', '-digest', 'sm3', '-pkeyopt', `distid:${distid}`, '-pubin', '-inkey', pub, '-in', file('msg'), '-sigfile', file('sig')], { encoding: 'utf8' });
  if (run.status !== 0 && !/Verification failure|Signature Verification Failure/i.test(run.stdout + run.stderr)) throw new Error(`openssl pkeyutl -verify failed: ${run.stderr}`);
  return run.status === 0 && /Signature Verified Successfully/.test(run.stdout);
}

function opensslSign(key: string, message: string, distid = DEFAULT_SM2_USER_ID): Buffer {
  writeFileSync(file('msg'), message, 'utf8');
  openssl('pkeyutl', '-sign', '-rawin', '-digest', 'sm3', '-pkeyopt', `distid:${distid}`, '-inkey', key, '-in', file('msg'), '-out', file('sig'));
  return readFileSync(file('sig'));
}

const MESSAGES = [signedText('20261130120501', 'HCP-HALL-0001', 'appword-7Kq2'), signedText('2026-11-30 12:05:01', '省好差评接入', '密钥 with spaces'), 'x'];

describe.skipIf(!available && !onCI())('SM2: sm-crypto-v2 and OpenSSL agree', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hcp-sm2-openssl-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('OpenSSL derives the same public key from our private key', () => {
    const pair = generateSm2KeyPair();
    const { pub } = keyFiles('derive', pair);
    const spki = readFileSync(pub, 'utf8').replace(/-----[^-]+-----|\s/g, '');
    expect(Buffer.from(spki, 'base64').subarray(-65).toString('hex')).toBe(pair.publicKey);
  });

  it('OpenSSL verifies what sm-crypto signs, in DER hex, DER base64 and r‖s', () => {
    const pair = generateSm2KeyPair();
    const { pub } = keyFiles('ours', pair);
    for (const message of MESSAGES) {
      const derHex = sm2Sign(message, pair.privateKey, { format: 'der_hex' });
      expect(opensslVerify(pub, message, Buffer.from(derHex, 'hex'))).toBe(true);
      const derB64 = sm2Sign(message, pair.privateKey, { format: 'der_base64' });
      expect(opensslVerify(pub, message, Buffer.from(derB64, 'base64'))).toBe(true);
      const raw = sm2Sign(message, pair.privateKey, { format: 'raw_hex' });
      expect(opensslVerify(pub, message, rawToDer(raw))).toBe(true);
      // And refuses it over another text: the check is real.
      expect(opensslVerify(pub, `${message}.`, Buffer.from(derHex, 'hex'))).toBe(false);
    }
  });

  it('sm-crypto verifies what OpenSSL signs, with a key OpenSSL made', () => {
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', file('theirs.pem'));
    const der = openssl('pkey', '-in', file('theirs.pem'), '-outform', 'DER');
    const privateKey = sec1PrivateKeyFromPkcs8(der);
    const publicKey = sm2PublicKeyOf(privateKey);
    openssl('pkey', '-in', file('theirs.pem'), '-pubout', '-out', file('theirs.pub.pem'));
    for (const message of MESSAGES) {
      const signature = opensslSign(file('theirs.pem'), message);
      expect(sm2Verify(message, signature.toString('hex'), publicKey, { format: 'der_hex' })).toBe(true);
      expect(sm2Verify(message, signature.toString('base64'), publicKey, { format: 'der_base64' })).toBe(true);
      expect(sm2Verify(`${message}.`, signature.toString('hex'), publicKey, { format: 'der_hex' })).toBe(false);
      // Our signature with OpenSSL's key verifies at OpenSSL too.
      expect(opensslVerify(file('theirs.pub.pem'), message, Buffer.from(sm2Sign(message, privateKey, { format: 'der_hex' }), 'hex'))).toBe(true);
    }
  });

  it('agrees on another user id (distid), and tells it from the default', () => {
    const pair = generateSm2KeyPair();
    const { key, pub } = keyFiles('alice', pair);
    const message = MESSAGES[0] as string;
    const ours = sm2Sign(message, pair.privateKey, { format: 'der_hex', userId: 'ALICE123@YAHOO.COM' });
    expect(opensslVerify(pub, message, Buffer.from(ours, 'hex'), 'ALICE123@YAHOO.COM')).toBe(true);
    expect(opensslVerify(pub, message, Buffer.from(ours, 'hex'))).toBe(false);
    const theirs = opensslSign(key, message, 'ALICE123@YAHOO.COM');
    expect(sm2Verify(message, theirs.toString('hex'), pair.publicKey, { format: 'der_hex', userId: 'ALICE123@YAHOO.COM' })).toBe(true);
    expect(sm2Verify(message, theirs.toString('hex'), pair.publicKey, { format: 'der_hex' })).toBe(false);
  });
});

/** r‖s (hex) as the DER SEQUENCE OpenSSL takes. */
function rawToDer(raw: string): Buffer {
  const int = (hex: string) => {
    let bytes = Buffer.from(hex, 'hex');
    while (bytes.length > 1 && bytes[0] === 0 && (bytes[1] as number) < 0x80) bytes = bytes.subarray(1);
    if ((bytes[0] as number) >= 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
  };
  const body = Buffer.concat([int(raw.slice(0, 64)), int(raw.slice(64))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** The private scalar of OpenSSL's PKCS#8 SM2 key: the OCTET STRING of 32 bytes after `02 01 01 04 20` in its SEC1 part. */
function sec1PrivateKeyFromPkcs8(der: Buffer): string {
  const at = der.indexOf(Buffer.from('0201010420', 'hex'));
  if (at < 0) throw new Error('no SEC1 private key in OpenSSL’s output');
  return der.subarray(at + 5, at + 37).toString('hex');
}
