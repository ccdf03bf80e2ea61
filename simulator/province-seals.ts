import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { HeldChain, type Gap } from '../protocol/seal/chain.js';
import { ED25519_SPKI_HEADER, GENESIS, type Ed25519Verify } from '../protocol/seal/seal.js';
import { verifySealed, type ChainLink, type SealVerdictName } from '../protocol/seal/verify.js';

/** A key a terminal brought that differs from the one pinned for it: waits for the operator. */
export interface PendingKey {
  publicKey: string;
  /** What came with it (a provisioning registration), applied only when the operator approves. */
  with?: unknown;
}

/**
 * The province's registered terminal keys. The first key a terminal brings (its provisioning
 * registration, or the birth of a bridge never registered) is pinned; a different one later is
 * kept pending, never applied, until the operator approves it (`approve`).
 */
export class TerminalKeys {
  readonly #pinned = new Map<string, string>();
  readonly #pending = new Map<string, PendingKey>();

  /** What a key brought by a terminal does: pinned now, the same as pinned, or pending the operator. */
  offer(terminalId: string, key: PendingKey): 'pinned' | 'same' | 'pending' {
    const pinned = this.#pinned.get(terminalId);
    if (pinned === undefined) {
      this.#pinned.set(terminalId, key.publicKey);
      return 'pinned';
    }
    if (pinned === key.publicKey) return 'same';
    this.#pending.set(terminalId, key);
    return 'pending';
  }

  /** The operator accepts the pending key (a replaced terminal): it becomes the pinned one. */
  approve(terminalId: string): PendingKey | undefined {
    const pending = this.#pending.get(terminalId);
    if (!pending) return undefined;
    this.#pending.delete(terminalId);
    this.#pinned.set(terminalId, pending.publicKey);
    return pending;
  }

  pinned(terminalId: string): string | undefined {
    return this.#pinned.get(terminalId);
  }

  pending(terminalId: string): PendingKey | undefined {
    return this.#pending.get(terminalId);
  }
}

const keyObjects = new Map<string, KeyObject>();

/** node:crypto's Ed25519 (OpenSSL: strict, s < L), for the protocol's verifier: a province checks every record. */
export const nodeEd25519Verify: Ed25519Verify = (publicKey, message, signature) => {
  const hex = Buffer.from(publicKey).toString('hex');
  let key = keyObjects.get(hex);
  try {
    if (!key) keyObjects.set(hex, (key = createPublicKey({ key: Buffer.from(ED25519_SPKI_HEADER + hex, 'hex'), format: 'der', type: 'spki' })));
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
};

/** Every record whose seal was not simply right, as the operator sees it. */
export interface SealReport {
  id: string;
  terminalId: string;
  verdict: SealVerdictName | 'held';
  reason: string;
}

/**
 * What the province does with a record by its seal, before anything else (dedupe included):
 * - `reject` (acked `rejected`: the bridge quarantines it): bad_signature, broken_chain, malformed;
 * - `hold` (no ack: the bridge keeps publishing it): no key registered for the terminal, or signed
 *   by a key waiting for the operator's approval;
 * - `accept`, flagged where the operator must look: `unsigned` (layout 1, an upgraded bridge's old
 *   rows; refused instead when its seq comes after the terminal's first sealed record), `gap`
 *   (records before it missing: the gap stays listed until they arrive).
 */
export type SealDecision = { action: 'accept'; flag?: 'unsigned' | 'gap' } | { action: 'reject' | 'hold'; reason: string };

export class SealLedger {
  readonly #chains = new Map<string, HeldChain>();
  /** Per terminal, the lowest seq of a sealed record verified: no unsigned record may come after it. */
  readonly #sealedSince = new Map<string, number>();
  readonly #reports: SealReport[] = [];
  /** id and verdict of each report: a record published again is reported once. */
  readonly #reported = new Set<string>();

  constructor(
    private readonly keys: TerminalKeys,
    /** Told of each new report as it is made. */
    private readonly onReport: (report: SealReport) => void = () => {},
  ) {}

  check(terminalId: string, id: string, body: unknown): SealDecision {
    const chain = this.#chainOf(terminalId);
    const verdict = verifySealed(body, this.keys.pinned(terminalId), chain, nodeEd25519Verify);
    switch (verdict.verdict) {
      case 'ok':
        this.#keep(terminalId, chain, verdict.link);
        return { action: 'accept' };
      case 'gap':
        this.#keep(terminalId, chain, verdict.link);
        this.#report(id, terminalId, 'gap', verdict.reason);
        return { action: 'accept', flag: 'gap' };
      case 'unsigned': {
        // Unsealed rows all precede a bridge's first sealed one: an unsigned record after it is a sealed one stripped.
        const seq = (body as { seq?: unknown }).seq;
        const since = this.#sealedSince.get(terminalId);
        if (typeof seq === 'number' && since !== undefined && seq > since) {
          const reason = `${verdict.reason}; but terminal ${terminalId} seals its records since seq ${since}: a sealed record stripped of its seal`;
          this.#report(id, terminalId, 'unsigned', reason);
          return { action: 'reject', reason: `unsigned: ${reason}` };
        }
        this.#report(id, terminalId, 'unsigned', verdict.reason);
        return { action: 'accept', flag: 'unsigned' };
      }
      case 'unknown_key':
        return this.#hold(id, terminalId, verdict.reason);
      case 'bad_signature': {
        const pending = this.keys.pending(terminalId);
        const underPending = pending && verifySealed(body, pending.publicKey, chain, nodeEd25519Verify).verdict;
        if (underPending === 'ok' || underPending === 'gap') {
          return this.#hold(id, terminalId, `${verdict.reason}; it verifies with the new key terminal ${terminalId} brought, which waits for the operator`);
        }
        this.#report(id, terminalId, verdict.verdict, verdict.reason);
        return { action: 'reject', reason: `${verdict.verdict}: ${verdict.reason}` };
      }
      case 'broken_chain':
      case 'malformed':
        this.#report(id, terminalId, verdict.verdict, verdict.reason);
        return { action: 'reject', reason: `${verdict.verdict}: ${verdict.reason}` };
    }
  }

  /** The seqs of a terminal's chain not seen (yet), oldest first. */
  gaps(terminalId: string): Gap[] {
    return this.#chains.get(terminalId)?.gaps(GENESIS) ?? [];
  }

  reports(): SealReport[] {
    return this.#reports.map((r) => ({ ...r }));
  }

  #keep(terminalId: string, chain: HeldChain, link: ChainLink): void {
    chain.add(link);
    this.#sealedSince.set(terminalId, Math.min(link.seq, this.#sealedSince.get(terminalId) ?? link.seq));
  }

  #hold(id: string, terminalId: string, reason: string): SealDecision {
    this.#report(id, terminalId, 'held', reason);
    return { action: 'hold', reason };
  }

  #report(id: string, terminalId: string, verdict: SealReport['verdict'], reason: string): void {
    const key = JSON.stringify([terminalId, id, verdict]);
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    const report = { id, terminalId, verdict, reason };
    this.#reports.push(report);
    this.onReport({ ...report });
  }

  #chainOf(terminalId: string): HeldChain {
    let chain = this.#chains.get(terminalId);
    if (!chain) this.#chains.set(terminalId, (chain = new HeldChain()));
    return chain;
  }
}
