import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordSealer } from '../../bridge/identity/record-sealer.js';
import { RECORD_FORMATS } from '../../protocol/record-formats/index.js';
import { HeldChain } from '../../protocol/seal/chain.js';
import { canonicalJson } from '../../protocol/seal/canonical-json.js';
import { ed25519Valid, fromBase64, GENESIS, publicKeyBytes, sealBody, toBase64 } from '../../protocol/seal/seal.js';
import { verifySealed, type SealVerdict } from '../../protocol/seal/verify.js';
import { nodeEd25519Verify } from '../../simulator/province-seals.js';
import { strayPress } from '../support/stray-press.js';
import { testIdentity } from '../support/terminal-key.js';

/*
 * The verifier of sealed records (protocol/seal/verify.ts), as a receiver runs it on whatever
 * arrives: any single change to a sealed record (a byte of its message, a field), a dropped,
 * reordered, duplicated or invented record is detected, and no body, however hostile, makes it
 * throw.
 */

const SEED = 20261130;
const terminal = testIdentity();
const forger = testIdentity();
const sealer = new RecordSealer(RECORD_FORMATS.v2, 'provincial-5-high', terminal.sign);
type Body = Record<string, unknown> & { id: string; seq: number };
const VERDICTS = ['ok', 'gap', 'unsigned', 'unknown_key', 'malformed', 'bad_signature', 'broken_chain'];

/** A chain of sealed messages (JSON text), each record's detail from `details`. */
function chainOf(details: Array<Record<string, string | number | boolean | null>>): string[] {
  let prev = GENESIS;
  return details.map((detail, i) => {
    const sealed = sealer.seal({ ...strayPress(`r-${i + 1}`), detail }, i + 1, prev);
    prev = sealed.hash;
    return sealed.body;
  });
}

/** Delivers messages in order to one receiver; returns each verdict and the chain it holds. */
function deliver(messages: unknown[], key = terminal.publicKey): { verdicts: SealVerdict[]; chain: HeldChain } {
  const chain = new HeldChain();
  const verdicts = messages.map((body) => {
    const verdict = verifySealed(body, key, chain);
    if (verdict.verdict === 'ok' || verdict.verdict === 'gap') chain.add(verdict.link);
    return verdict;
  });
  return { verdicts, chain };
}

const accepted = (v: SealVerdict | undefined) => v?.verdict === 'ok' || v?.verdict === 'gap';
const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const detail = fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 3 });
const chains = fc.array(detail, { minLength: 2, maxLength: 5 }).map(chainOf);

describe('verifySealed (fuzz)', () => {
  it('one altered byte of any record: refused, unless the message still means exactly the same record', () => {
    fc.assert(
      fc.property(chains, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 127 }), (messages, which, at, delta) => {
        const i = which % messages.length;
        const original = messages[i]!;
        const pos = at % original.length;
        const altered = original.slice(0, pos) + String.fromCharCode((original.charCodeAt(pos) + delta) % 128) + original.slice(pos + 1);
        const body = parse(altered);
        if (body === undefined || altered === original) return; // not JSON any more: refused before any seal is read
        if (typeof body === 'object' && body !== null && canonicalJson(body) === canonicalJson(JSON.parse(original))) return;
        const { verdicts } = deliver([...messages.slice(0, i).map(parse), body]);
        expect(accepted(verdicts[i])).toBe(false);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('one field of any record set to another value: refused', () => {
    fc.assert(
      fc.property(chains, fc.nat(), fc.constantFrom('id', 'seq', 'prev', 'sig', 'terminalId', 'type', 'at', 'test', 'flags', 'detail', 'staffId', 'clock'), fc.jsonValue(), (messages, which, field, value) => {
        const i = which % messages.length;
        const body = JSON.parse(messages[i]!) as Body;
        const altered: Record<string, unknown> = { ...body, [field]: value };
        fc.pre(canonicalJson(altered) !== canonicalJson(body));
        const { verdicts } = deliver([...messages.slice(0, i).map(parse), altered]);
        expect(accepted(verdicts[i])).toBe(false);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('a dropped record is a gap, from..to exactly its seq; a duplicate is the same link again (deduped, never a second record); any delivery order rebuilds the same chain', () => {
    fc.assert(
      fc.property(chains, fc.nat(), fc.nat(), (messages, which, seed) => {
        const dropped = 1 + (which % (messages.length - 1)); // never the last: only a later record can tell
        const { chain } = deliver(messages.filter((_, i) => i !== dropped - 1).map(parse)); // seq `dropped` is at index dropped - 1
        expect(chain.gaps(GENESIS)).toEqual([{ from: dropped, to: dropped }]);
        const shuffled = [...messages.map(parse)].sort(() => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 3) - 1);
        const twice = deliver([...shuffled, ...shuffled]);
        expect(twice.verdicts.slice(messages.length).every((v) => v.verdict === 'ok')).toBe(true);
        expect(twice.chain.gaps(GENESIS)).toEqual([]);
        const straight = deliver(messages.map(parse)).chain;
        for (let seq = 1; seq <= messages.length; seq++) expect(twice.chain.at(seq)).toEqual(straight.at(seq));
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('an invented record, signed by any other key, is refused wherever it claims to be', () => {
    fc.assert(
      fc.property(chains, fc.nat(), detail, (messages, which, inventedDetail) => {
        const held = messages.map(parse) as Body[];
        const seq = 1 + (which % (held.length + 1)); // a place already taken, or the next one
        const prev = seq === 1 ? GENESIS : (deliver(held).chain.at(seq - 1)?.hash ?? GENESIS);
        const invented = sealBody({ ...held[0]!, id: `forged-${seq}`, seq, detail: inventedDetail }, prev, forger.sign);
        const { verdicts } = deliver([...held, invented]);
        expect(verdicts.at(-1)?.verdict).toBe('bad_signature');
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it("the province emulator's node:crypto Ed25519 and the pure one agree, on genuine, altered and random signatures", () => {
    const key = publicKeyBytes(terminal.publicKey);
    if (!key.ok) throw new Error(key.reason);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), fc.uint8Array({ minLength: 64, maxLength: 64 }), (message, at, flip, random) => {
        const genuine = terminal.sign(message);
        const altered = Uint8Array.from(genuine);
        altered[at % 64]! ^= 1 << (flip % 8);
        for (const signature of [genuine, altered, random]) {
          expect(nodeEd25519Verify(key.key, message, signature)).toBe(ed25519Valid(key.key, message, signature));
        }
        expect(nodeEd25519Verify(key.key, message, genuine)).toBe(true);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('never throws on hostile bodies, and always names a verdict with a reason', () => {
    const [sample] = chainOf([{}]);
    const body = JSON.parse(sample!) as Body;
    const hostile = fc.oneof(
      fc.anything(),
      fc.jsonValue(),
      fc.record({ schema: fc.constant(2), id: fc.anything(), seq: fc.anything(), prev: fc.anything(), sig: fc.anything(), timeCorrection: fc.anything() }, { requiredKeys: [] }),
      fc.anything().map((v) => ({ ...body, detail: v })),
      fc.double().map((n) => ({ ...body, clock: { ...(body.clock as object), monoMs: n } })),
    );
    fc.assert(
      fc.property(hostile, fc.constantFrom(terminal.publicKey, undefined, '', 'AAAA', forger.publicKey), (value, key) => {
        const verdict = verifySealed(value, key, new HeldChain());
        expect(VERDICTS).toContain(verdict.verdict);
        if (!accepted(verdict)) expect((verdict as { reason: string }).reason.length).toBeGreaterThan(0);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

/** The same value with every object's keys in reverse order (and so in a different order wherever there are two or more). */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversedKeys(v)]));
  return value;
}

describe('canonical JSON and base64 (fuzz)', () => {
  it('canonicalJson of any JSON value parses back to that value, and its keys in any order give the same text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = canonicalJson(v);
        expect(JSON.parse(text)).toStrictEqual(v);
        expect(canonicalJson(reversedKeys(v))).toBe(text);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('keys in a shuffled order give the same canonical text', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { minKeys: 2, maxKeys: 8 }).chain((o) => fc.tuple(fc.constant(o), fc.shuffledSubarray(Object.keys(o), { minLength: Object.keys(o).length }))),
        ([o, order]) => {
          const shuffled = Object.fromEntries(order.map((k) => [k, o[k]]));
          expect(canonicalJson(shuffled)).toBe(canonicalJson(o));
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('fromBase64(toBase64(bytes)) is the bytes, and toBase64 is what btoa gives', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = toBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(fromBase64(text)).toEqual(bytes);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('a text that is not the one spelling of its bytes gives undefined', () => {
    const base64ish = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n'.split('')), maxLength: 40 });
    // Stray low bits before the padding: the same bytes, another spelling.
    const strayBits = fc.uint8Array({ minLength: 1, maxLength: 40 }).filter((b) => b.length % 3 !== 0).chain((bytes) => {
      const text = toBase64(bytes);
      const last = text.replace(/=+$/, '').length - 1;
      return fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('')).map((c) => `${text.slice(0, last)}${c}${text.slice(last + 1)}`);
    });
    fc.assert(
      fc.property(fc.oneof(base64ish, strayBits), (text) => {
        const bytes = fromBase64(text);
        const canonical = Buffer.from(text, 'base64').toString('base64') === text && /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0;
        if (bytes === undefined) expect(canonical, text).toBe(false);
        else {
          expect(toBase64(bytes)).toBe(text);
          expect(canonical, text).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
