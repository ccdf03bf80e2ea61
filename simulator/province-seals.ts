import { nodeEd25519Verify } from '../gateway/ingest/ed25519.js';
import { HeldChain, type Gap } from '../protocol/seal/chain.js';
import { decideSeal, type SealDecision } from '../protocol/seal/decide.js';
import { GENESIS } from '../protocol/seal/seal.js';
import type { ChainLink, SealVerdictName } from '../protocol/seal/verify.js';

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

/** node:crypto's Ed25519, the gateway's: one verifier for both receivers. */
export { nodeEd25519Verify };

/** Every record whose seal was not simply right, as the operator sees it. */
export interface SealReport {
  id: string;
  terminalId: string;
  verdict: SealVerdictName | 'held';
  reason: string;
}

export type { SealDecision };

/** The province emulator's seal ledger: each terminal's chain and its seal reports, in memory; the rule itself is protocol/seal/decide.ts. */
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

  /** What the province does with a record by its seal (protocol/seal/decide.ts), keeping its link and reporting what was not simply right. */
  check(terminalId: string, id: string, body: unknown): SealDecision {
    const chain = this.#chainOf(terminalId);
    const pending = this.keys.pending(terminalId);
    const judgement = decideSeal({
      terminalId,
      body,
      approvedKey: this.keys.pinned(terminalId),
      pendingKey: pending?.publicKey,
      chain,
      sealedSince: this.#sealedSince.get(terminalId),
      verify: nodeEd25519Verify,
    });
    if (judgement.link) this.#keep(terminalId, chain, judgement.link);
    if (judgement.report) this.#report(id, terminalId, judgement.report.verdict, judgement.report.reason);
    return judgement.decision;
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
