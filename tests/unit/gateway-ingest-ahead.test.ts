import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessagePreparer, type Preparable } from '../../gateway/ingest/ahead.js';
import { classifyBatch, type BatchState } from '../../gateway/ingest/classify.js';
import { nodeEd25519Verify, nodeSha256Hex } from '../../gateway/ingest/ed25519.js';
import type { ReadableMessage } from '../../gateway/ingest/incoming.js';
import type { IngestTerminal } from '../../gateway/store/terminals.js';
import { sha256Hex } from '../../protocol/seal/seal.js';
import { PREFIX, SealingTerminal, type Message } from './gateway-ingest-fixture.js';

/*
 * Seals checked ahead (while the database works on the batch before) are the same checks made
 * later: a batch classifies exactly as it would without them, whatever key the terminal had when
 * they were made, because a check is used only under the key the transaction reads.
 */

const SEED = 20_261_130;

function terminalRow(terminalId: string, publicKey: string | null, status: IngestTerminal['status'] = 'approved'): IngestTerminal {
  return { terminalId, status, publicKey, pendingKey: null, decidedAt: null, holdsOpen: false };
}

function state(terminal: IngestTerminal): BatchState {
  return { terminals: new Map([[terminal.terminalId, terminal]]), links: new Map(), firstSealed: new Map(), relations: [] };
}

function classify(messages: Preparable[], preparer: MessagePreparer, terminal: IngestTerminal, verify = nodeEd25519Verify) {
  const read = messages.map((m) => {
    const prepared = preparer.prepare(m);
    if (!('read' in prepared) || prepared.read.kind !== 'readable') throw new Error('a test message is unreadable');
    return prepared.read as ReadableMessage;
  });
  const plan = classifyBatch(read, state(terminal), { instance: 'gw-test', receivedAt: () => new Date(0), now: new Date(0), verify, hash: nodeSha256Hex, onError: (_, err) => { throw err; } });
  return plan.outcomes.map((o) => `${o.verdict}${o.reason ? `: ${o.reason.split(':')[0]}` : ''}`);
}

function fresh(messages: readonly Message[]): Preparable[] {
  return messages.map((m) => ({ topic: m.topic, payload: m.payload }));
}

describe('gateway ingest: seals checked ahead', () => {
  it('a check made under the key as last read is used only if the transaction reads that key: a replaced key is checked again', () => {
    const old = new SealingTerminal('T-1');
    const replacement = new SealingTerminal('T-1');
    const preparer = new MessagePreparer({ prefix: PREFIX, verify: nodeEd25519Verify, hash: nodeSha256Hex });
    preparer.learnKeys(new Map([['T-1', terminalRow('T-1', old.publicKey)]]));
    const byOld = fresh([old.event()]);
    const byNew = fresh([replacement.event()]);
    for (const m of [...byOld, ...byNew]) preparer.prepare(m);
    expect(byOld.map((m) => m.prepared && 'read' in m.prepared && m.prepared.read.kind === 'readable' && m.prepared.read.checked?.check.verdict)).toEqual(['genuine']);

    // The operator approved the replacement key before the batch's transaction: the old key's record is refused, the new one's accepted.
    let calls = 0;
    const counting: typeof nodeEd25519Verify = (...args) => {
      calls += 1;
      return nodeEd25519Verify(...args);
    };
    expect(classify([...byOld, ...byNew], preparer, terminalRow('T-1', replacement.publicKey), counting)).toEqual(['rejected: bad_signature', 'accepted']);
    expect(calls).toBe(2); // neither check made ahead (under the old key) was used

    // Under the key they were checked with, the checks made ahead are used: no signature verified again.
    calls = 0;
    const again = fresh([old.event()]);
    preparer.prepare(again[0]!);
    expect(classify(again, preparer, terminalRow('T-1', old.publicKey), counting)).toEqual(['accepted']);
    expect(calls).toBe(0);
  });

  it('a terminal no longer approved is forgotten: nothing is checked ahead for it', () => {
    const t = new SealingTerminal('T-2');
    const preparer = new MessagePreparer({ prefix: PREFIX, verify: nodeEd25519Verify, hash: nodeSha256Hex });
    preparer.learnKeys(new Map([['T-2', terminalRow('T-2', t.publicKey)]]));
    preparer.learnKeys(new Map([['T-2', terminalRow('T-2', t.publicKey, 'revoked')]]));
    const [m] = fresh([t.event()]);
    const prepared = preparer.prepare(m!);
    expect('read' in prepared && prepared.read.kind === 'readable' && prepared.read.checked).toBeUndefined();
  });

  it('property: any batch of genuine, altered and other-key records classifies the same with checks made ahead under any key as without', () => {
    const a = new SealingTerminal('T-3');
    const b = new SealingTerminal('T-3');
    const kinds = fc.array(fc.record({ by: fc.constantFrom('a', 'b'), alter: fc.boolean(), at: fc.nat() }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(kinds, fc.constantFrom('a', 'b', 'none'), fc.constantFrom('a', 'b', null), (recipe, aheadKey, approved) => {
        const messages = recipe.map(({ by, alter, at }) => {
          const signer = by === 'a' ? a : b;
          return signer.event(alter ? { mutate: (body) => void (body.detail = `altered ${at}`) } : {});
        });
        const terminal = terminalRow('T-3', approved === null ? null : (approved === 'a' ? a : b).publicKey);
        const ahead = new MessagePreparer({ prefix: PREFIX, verify: nodeEd25519Verify, hash: sha256Hex });
        if (aheadKey !== 'none') ahead.learnKeys(new Map([['T-3', terminalRow('T-3', (aheadKey === 'a' ? a : b).publicKey)]]));
        const plain = new MessagePreparer({ prefix: PREFIX, verify: nodeEd25519Verify, hash: sha256Hex });
        expect(classify(fresh(messages), ahead, terminal)).toEqual(classify(fresh(messages), plain, terminal));
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('prepareWhile reads what `next` hands out at each message (another lane took some meanwhile), until it is busy no more or none is left', async () => {
    const t = new SealingTerminal('T-4');
    const preparer = new MessagePreparer({ prefix: PREFIX, verify: nodeEd25519Verify, hash: nodeSha256Hex });
    preparer.learnKeys(new Map([['T-4', terminalRow('T-4', t.publicKey)]]));
    const queue = fresh(Array.from({ length: 40 }, () => t.event()));
    const handedOut: Preparable[] = [];
    let busyDone!: () => void;
    const busy = new Promise<void>((resolve) => (busyDone = resolve));
    const preparing = preparer.prepareWhile(busy, () => {
      // After the first slice, another lane takes the next ten: they are not handed out.
      if (handedOut.length === 8) queue.splice(0, 10);
      const next = queue.shift();
      if (next) handedOut.push(next);
      return next;
    });
    await preparing;
    expect(handedOut).toHaveLength(30);
    expect(handedOut.every((m) => m.prepared && 'read' in m.prepared && m.prepared.read.kind === 'readable' && m.prepared.read.checked?.check.verdict === 'genuine')).toBe(true);
    busyDone();

    // Settled before its first turn: one slice is read, no more.
    const more = fresh(Array.from({ length: 20 }, () => t.event()));
    let asked = 0;
    await preparer.prepareWhile(Promise.resolve(), () => {
      asked += 1;
      return more[asked - 1];
    });
    expect(asked).toBe(8);
  });
});
