import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MessagePreparer, type Preparable } from '../../gateway/ingest/ahead.js';
import { classifyBatch } from '../../gateway/ingest/classify.js';
import { nodeEd25519Verify, nodeSha256Hex } from '../../gateway/ingest/ed25519.js';
import type { ReadableMessage } from '../../gateway/ingest/incoming.js';
import { packChecks, verifyPacked, type SignatureCheck } from '../../gateway/ingest/signature-batch.js';
import { VerifyThread, type BatchVerifier } from '../../gateway/ingest/verify-thread.js';
import type { IngestTerminal } from '../../gateway/store/terminals.js';
import { PREFIX, SealingTerminal, type Message } from './gateway-ingest-fixture.js';

/*
 * Signatures checked on a thread of their own (config ingest.verifyThread) give the same verdicts
 * as on the main thread; a thread that fails leaves the checks to the transactions.
 */

const SEED = 20_261_130;

function terminalRow(terminalId: string, publicKey: string | null): IngestTerminal {
  return { terminalId, status: 'approved', publicKey, pendingKey: null, decidedAt: null, holdsOpen: false };
}

function fresh(messages: readonly Message[]): Preparable[] {
  return messages.map((m) => ({ topic: m.topic, payload: m.payload }));
}

function readable(m: Preparable): ReadableMessage {
  if (!m.prepared || !('read' in m.prepared) || m.prepared.read.kind !== 'readable') throw new Error('a test message is unreadable');
  return m.prepared.read;
}

/** Verdicts, with the verifier calls the transaction itself made. */
function classify(messages: Preparable[], preparer: MessagePreparer, terminal: IngestTerminal): { outcomes: string[]; verifiedInTransaction: number } {
  let verifiedInTransaction = 0;
  const verify: typeof nodeEd25519Verify = (...args) => {
    verifiedInTransaction += 1;
    return nodeEd25519Verify(...args);
  };
  const read = messages.map((m) => {
    preparer.prepare(m);
    return readable(m);
  });
  const state = { terminals: new Map([[terminal.terminalId, terminal]]), links: new Map(), firstSealed: new Map(), relations: [] };
  const plan = classifyBatch(read, state, { instance: 'gw-test', receivedAt: () => new Date(0), now: new Date(0), verify, hash: nodeSha256Hex, onError: (_, err) => { throw err; } });
  return { outcomes: plan.outcomes.map((o) => `${o.verdict}${o.reason ? `: ${o.reason}` : ''}`), verifiedInTransaction };
}

/** The thread's work, in this thread: packed, checked, unpacked exactly as the worker does. */
const inProcess: BatchVerifier = {
  verifyAll: (checks) => Promise.resolve(Array.from(verifyPacked(packChecks(checks), nodeEd25519Verify), (r) => r === 1)),
  close: () => Promise.resolve(),
};

describe('gateway ingest: signature batches for a verify thread', () => {
  const bytes = (max: number) => fc.uint8Array({ maxLength: max });

  it('property: every check crosses packed, intact and in order, and gets its own verdict', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ publicKey: bytes(40), message: bytes(300), signature: bytes(80) }), { maxLength: 20 }), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }), (checks, verdicts) => {
        const seen: SignatureCheck[] = [];
        const results = verifyPacked(packChecks(checks), (publicKey, message, signature) => {
          seen.push({ publicKey: Uint8Array.from(publicKey), message: Uint8Array.from(message), signature: Uint8Array.from(signature) });
          return verdicts[seen.length - 1] === true;
        });
        expect(seen).toEqual(checks.map((c) => ({ publicKey: Uint8Array.from(c.publicKey), message: Uint8Array.from(c.message), signature: Uint8Array.from(c.signature) })));
        expect(Array.from(results)).toEqual(checks.map((_, i) => (verdicts[i] === true ? 1 : 0)));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('property: a buffer cut short or with bytes to spare is refused, never read past its end', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ publicKey: bytes(40), message: bytes(100), signature: bytes(80) }), { minLength: 1, maxLength: 5 }), fc.integer({ min: -50, max: 50 }).filter((d) => d !== 0), (checks, delta) => {
        const packed = packChecks(checks);
        const changed = delta < 0 ? packed.subarray(0, Math.max(4, packed.byteLength + delta)) : Uint8Array.from([...packed, ...new Uint8Array(delta)]);
        if (changed.byteLength === packed.byteLength) return;
        expect(() => verifyPacked(changed, () => true)).toThrow(RangeError);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe('gateway ingest: the verify thread', () => {
  const thread = new VerifyThread();
  afterAll(() => thread.close());

  it('checks genuine and altered seals in a worker thread as the main thread would', async () => {
    const t = new SealingTerminal('T-V1');
    const preparer = new MessagePreparer({ prefix: PREFIX, verify: nodeEd25519Verify, hash: nodeSha256Hex, offThread: thread });
    preparer.learnKeys(new Map([['T-V1', terminalRow('T-V1', t.publicKey)]]));
    const sent = [t.event(), t.event({ mutate: (body) => void (body.detail = 'altered') }), t.event()];
    const messages = fresh(sent);
    await preparer.checkOffThread(messages);
    expect(messages.map((m) => readable(m).checked?.check.verdict)).toEqual(['genuine', 'bad_signature', 'genuine']);

    const plain = new MessagePreparer({ prefix: PREFIX, verify: nodeEd25519Verify, hash: nodeSha256Hex });
    const terminal = terminalRow('T-V1', t.publicKey);
    const withThread = classify(messages, preparer, terminal);
    expect(withThread).toEqual({ outcomes: classify(fresh(sent), plain, terminal).outcomes, verifiedInTransaction: 0 });
  });

  it('a thread that dies fails what it was asked and everything after', async () => {
    const dying = new VerifyThread(() => new Worker('process.exit(3)', { eval: true }));
    const check = { publicKey: new Uint8Array(32), message: new Uint8Array(1), signature: new Uint8Array(64) };
    await expect(dying.verifyAll([check])).rejects.toThrow(/exited \(code 3\)/);
    await expect(dying.verifyAll([check])).rejects.toThrow(/exited \(code 3\)/);
    await dying.close();
  });

  it('a closed thread refuses what is asked of it; the preparer reports it and leaves the checks to the transaction', async () => {
    const closed = new VerifyThread();
    await closed.close();
    await expect(closed.verifyAll([{ publicKey: new Uint8Array(32), message: new Uint8Array(1), signature: new Uint8Array(64) }])).rejects.toThrow(/closed/);

    const t = new SealingTerminal('T-V2');
    const failures: unknown[] = [];
    const preparer = new MessagePreparer({ prefix: PREFIX, verify: nodeEd25519Verify, hash: nodeSha256Hex, offThread: closed, onOffThreadFailure: (err) => failures.push(err) });
    preparer.learnKeys(new Map([['T-V2', terminalRow('T-V2', t.publicKey)]]));
    const messages = fresh([t.event(), t.event()]);
    await preparer.checkOffThread(messages);
    expect(failures).toHaveLength(1);
    expect(messages.map((m) => readable(m).checked)).toEqual([undefined, undefined]);
    expect(classify(messages, preparer, terminalRow('T-V2', t.publicKey))).toEqual({ outcomes: ['accepted', 'accepted'], verifiedInTransaction: 2 });
  });
});

describe('gateway ingest: seals checked off the main thread', () => {
  it('property: any batch of genuine, altered and other-key records classifies the same with checks made on a verify thread as without', async () => {
    const a = new SealingTerminal('T-V3');
    const b = new SealingTerminal('T-V3');
    const kinds = fc.array(fc.record({ by: fc.constantFrom('a', 'b'), alter: fc.boolean(), at: fc.nat() }), { minLength: 1, maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(kinds, fc.constantFrom('a', 'b', 'none'), fc.constantFrom('a', 'b', null), async (recipe, aheadKey, approved) => {
        const messages = recipe.map(({ by, alter, at }) => (by === 'a' ? a : b).event(alter ? { mutate: (body) => void (body.detail = `altered ${at}`) } : {}));
        const terminal = terminalRow('T-V3', approved === null ? null : (approved === 'a' ? a : b).publicKey);
        const ahead = new MessagePreparer({ prefix: PREFIX, verify: nodeEd25519Verify, hash: nodeSha256Hex, offThread: inProcess });
        if (aheadKey !== 'none') ahead.learnKeys(new Map([['T-V3', terminalRow('T-V3', (aheadKey === 'a' ? a : b).publicKey)]]));
        const offThread = fresh(messages);
        // Asked twice (a slice read ahead, then its batch): the second asks nothing new of the thread.
        await Promise.all([ahead.checkOffThread(offThread), ahead.checkOffThread(offThread)]);
        const plain = new MessagePreparer({ prefix: PREFIX, verify: nodeEd25519Verify, hash: nodeSha256Hex });
        expect(classify(offThread, ahead, terminal).outcomes).toEqual(classify(fresh(messages), plain, terminal).outcomes);
      }),
      { seed: SEED, numRuns: 60 },
    );
  });
});
