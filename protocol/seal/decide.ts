import type { Ed25519Verify, Sha256Hex } from './seal.js';
import { checkSeal, placeSealed, verifySealed, type ChainLink, type ChainView, type SealCheck, type SealVerdictName } from './verify.js';

/**
 * What a receiver does with a record by its seal, before anything else (dedupe included):
 * - `reject` (acked `rejected`: the bridge quarantines it): bad_signature, broken_chain, malformed,
 *   or an unsigned record after the terminal began sealing (a sealed record stripped of its seal);
 * - `hold` (no ack: the bridge keeps publishing it): no key registered for the terminal, or signed
 *   by a key waiting for the operator's approval;
 * - `accept`, flagged where the operator must look: `unsigned` (layout 1, an upgraded bridge's old
 *   rows), `gap` (records before it missing: the gap stays listed until they arrive).
 */
export type SealDecision = { action: 'accept'; flag?: 'unsigned' | 'gap' } | { action: 'reject' | 'hold'; reason: string };

/** The decision, and what the receiver keeps of it. */
export interface SealJudgement {
  decision: SealDecision;
  /** Accepted as sealed (ok or gap): the link to add to the terminal's chain. */
  link?: ChainLink;
  /** Why it was held: no usable key, or signed by the key that waits for the operator. */
  heldFor?: 'unknown_key' | 'pending_key';
  /** Whatever was not simply right (refused, held, or accepted flagged), as the operator sees it. */
  report?: { verdict: SealVerdictName | 'held'; reason: string };
}

export interface SealFacts {
  terminalId: string;
  body: unknown;
  /** The terminal's approved key (SPKI DER, base64), if any. */
  approvedKey: string | undefined;
  /** A different key the terminal brought, waiting for the operator, if any. */
  pendingKey: string | undefined;
  /** The terminal's chain under the approved key, as far as the receiver holds it. */
  chain: ChainView;
  /** The lowest seq of a sealed record verified for this terminal: no unsigned record may come after it. */
  sealedSince: number | undefined;
  verify: Ed25519Verify;
  /** Default: the pure one. */
  hash?: Sha256Hex;
  /** checkSeal(body, approvedKey) if the receiver checked it ahead: only ever under the same key. */
  checked?: SealCheck;
}

/** The seal rule of every receiver (the province emulator in memory, the gateway on a database): pure. */
export function decideSeal(facts: SealFacts): SealJudgement {
  const { terminalId, body, chain, verify } = facts;
  const verdict = placeSealed(facts.checked ?? checkSeal(body, facts.approvedKey, verify, facts.hash), chain);
  switch (verdict.verdict) {
    case 'ok':
      return { decision: { action: 'accept' }, link: verdict.link };
    case 'gap':
      return { decision: { action: 'accept', flag: 'gap' }, link: verdict.link, report: { verdict: 'gap', reason: verdict.reason } };
    case 'unsigned': {
      // Unsealed rows all precede a bridge's first sealed one: an unsigned record after it is a sealed one stripped.
      const seq = (body as { seq?: unknown } | null)?.seq;
      const since = facts.sealedSince;
      if (typeof seq === 'number' && since !== undefined && seq > since) {
        const reason = `${verdict.reason}; but terminal ${terminalId} seals its records since seq ${since}: a sealed record stripped of its seal`;
        return { decision: { action: 'reject', reason: `unsigned: ${reason}` }, report: { verdict: 'unsigned', reason } };
      }
      return { decision: { action: 'accept', flag: 'unsigned' }, report: { verdict: 'unsigned', reason: verdict.reason } };
    }
    case 'unknown_key':
      return held(verdict.reason, 'unknown_key');
    case 'bad_signature': {
      const underPending = facts.pendingKey === undefined ? undefined : verifySealed(body, facts.pendingKey, chain, verify, facts.hash).verdict;
      if (underPending === 'ok' || underPending === 'gap') {
        return held(`${verdict.reason}; it verifies with the new key terminal ${terminalId} brought, which waits for the operator`, 'pending_key');
      }
      return { decision: { action: 'reject', reason: `${verdict.verdict}: ${verdict.reason}` }, report: { verdict: verdict.verdict, reason: verdict.reason } };
    }
    case 'broken_chain':
    case 'malformed':
      return { decision: { action: 'reject', reason: `${verdict.verdict}: ${verdict.reason}` }, report: { verdict: verdict.verdict, reason: verdict.reason } };
  }
}

function held(reason: string, heldFor: 'unknown_key' | 'pending_key'): SealJudgement {
  return { decision: { action: 'hold', reason }, heldFor, report: { verdict: 'held', reason } };
}
