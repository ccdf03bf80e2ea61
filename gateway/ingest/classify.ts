import type { InvitationRecord, UpstreamRecord } from '../../protocol/records.js';
import { HeldChain } from '../../protocol/seal/chain.js';
import { decideSeal } from '../../protocol/seal/decide.js';
import { supersedeRefusal } from '../../protocol/supersede.js';
import type { ChainLink } from '../../protocol/seal/verify.js';
import { GENESIS, type Ed25519Verify, type Sha256Hex } from '../../protocol/seal/seal.js';
import { MAX_STORED_SEQ, type NewLink, type VerifiedPredecessor } from '../store/chain-store.js';
import { recordRow, type RecordRow, type StoredRelation } from '../store/records.js';
import type { RefusalRow } from '../store/refusals.js';
import type { IngestTerminal } from '../store/terminals.js';
import type { ReadableMessage } from './incoming.js';
import { storableText } from './incoming.js';
import { unstorableReason } from './storable.js';

/** What became of one readable message. `invalid`: not a valid record (acked `rejected`, nothing kept). */
export type Verdict = 'accepted' | 'duplicate' | 'rejected' | 'invalid' | 'held';

export interface Outcome {
  terminalId: string;
  id: string;
  verdict: Verdict;
  reason?: string;
  /** Accepted: the decoded record (for the `record` event). */
  record?: UpstreamRecord;
}

/** What a batch writes, decided before it writes anything. */
export interface BatchPlan {
  /** One per message classified, in order (those that threw are left out). */
  outcomes: Outcome[];
  rows: RecordRow[];
  links: NewLink[];
  refusals: RefusalRow[];
  /** superseded_by to set, each applied only if the record `cause` is inserted by this batch. */
  replaced: { id: string; by: string; cause: string }[];
  /** Accepted records of terminals with open holds: resolved if inserted. */
  resolvable: { terminalId: string; id: string }[];
  /**
   * Records whose verified successor (seq + 1, chained to them) was already held: if the record
   * `cause` is inserted, that successor, stored flagged 'gap' when it came first, is 'ok' now.
   */
  healed: HealedSuccessor[];
}

/** A held link chained to a record of this batch, cleared of its gap flag if `cause` (that record) is inserted. */
export type HealedSuccessor = VerifiedPredecessor & { cause: string };

/** What the batch's transaction read before classifying. */
export interface BatchState {
  terminals: Map<string, IngestTerminal>;
  /** Neighbour and newest links, by terminal, under its approved key. */
  links: Map<string, ChainLink[]>;
  /** First sealed seq, by terminal (only those with unsigned records in the batch). */
  firstSealed: Map<string, number>;
  relations: StoredRelation[];
}

export interface ClassifyContext {
  instance: string;
  receivedAt: (index: number) => Date;
  now: Date;
  verify: Ed25519Verify;
  hash: Sha256Hex;
  /** A message whose classification threw (a bug): logged; it is left unacknowledged. */
  onError: (index: number, err: unknown) => void;
}

const MAX_EVIDENCE_CHARS = 256 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Classifies a batch's readable messages one after another, in arrival order, as the province
 * emulator does one message at a time: terminal status, then the seal (before dedupe: an altered
 * resend is refused, not called a duplicate), then the schema, the topic, dedupe, what the
 * database can keep, and the supersede rule. Later messages see what earlier ones decided (links
 * added, records accepted). Pure but for `verify`: the caller writes the plan.
 */
export function classifyBatch(messages: readonly (ReadableMessage | undefined)[], state: BatchState, ctx: ClassifyContext): BatchPlan {
  return new BatchClassifier(state, ctx).run(messages);
}

interface Known {
  record: UpstreamRecord | null;
  supersededBy: string | null;
}

class BatchClassifier {
  readonly #plan: BatchPlan = { outcomes: [], rows: [], links: [], refusals: [], replaced: [], resolvable: [], healed: [] };
  readonly #chains = new Map<string, HeldChain>();
  readonly #sealedSince: Map<string, number>;
  /** Stored records, and those accepted in this batch, by id. */
  readonly #known = new Map<string, Known>();
  /** Who claims to supersede a record (stored or in this batch): target id → the superseding record (null if not loaded). */
  readonly #claims = new Map<string, InvitationRecord | { id: string }>();
  readonly #linked = new Set<string>();

  constructor(
    private readonly state: BatchState,
    private readonly ctx: ClassifyContext,
  ) {
    this.#sealedSince = new Map(state.firstSealed);
    for (const [terminalId, links] of state.links) {
      const chain = new HeldChain();
      for (const link of links) chain.add(link);
      this.#chains.set(terminalId, chain);
    }
    for (const r of state.relations) {
      this.#known.set(r.id, { record: r.record, supersededBy: r.supersededBy });
      if (r.supersedes !== null) this.#claims.set(r.supersedes, r.record?.kind === 'invitation' ? r.record : { id: r.id });
    }
  }

  run(messages: readonly (ReadableMessage | undefined)[]): BatchPlan {
    for (const [index, message] of messages.entries()) {
      if (!message) continue;
      try {
        this.#plan.outcomes.push(this.#classify(index, message));
      } catch (err) {
        this.ctx.onError(index, err);
      }
    }
    return this.#plan;
  }

  #classify(index: number, message: ReadableMessage): Outcome {
    const { terminalId, id, body, decoded } = message;
    const terminal = this.state.terminals.get(terminalId);
    if (!terminal) {
      return this.#refuse(message, 'held', 'unknown_terminal', `terminal ${terminalId} is not registered: its records are held until an operator approves it`);
    }
    if (terminal.status === 'pending') {
      return this.#refuse(message, 'held', 'pending_key', `terminal ${terminalId} waits for an operator to approve its key: its records are held until then`);
    }
    if (terminal.status === 'revoked') {
      const when = terminal.decidedAt ? ` at ${terminal.decidedAt.toISOString()}` : '';
      return this.#refuse(message, 'rejected', 'revoked', `terminal ${terminalId} was revoked by the operator${when}`);
    }
    if (typeof body.seq === 'number' && body.seq > MAX_STORED_SEQ) {
      return { terminalId, id, verdict: 'invalid', reason: `seq: ${body.seq} is beyond ${MAX_STORED_SEQ}, the most the gateway stores` };
    }

    const seal = this.#seal(terminal, message);
    if (seal.action !== 'accept') return this.#refuse(message, seal.action === 'hold' ? 'held' : 'rejected', seal.verdict, seal.reason);

    if (decoded.kind === 'invalid') return { terminalId, id, verdict: 'invalid', reason: decoded.reason };
    const { record } = decoded;
    if (record.terminalId !== terminalId) {
      const reason = `terminalId: record names terminal "${record.terminalId}" but was published on the topic of terminal "${terminalId}"`;
      return this.#refuse(message, 'rejected', 'terminal_mismatch', reason);
    }
    if (this.#known.has(id)) return { terminalId, id, verdict: 'duplicate' };
    const row = recordRow(record, { seal: seal.flag ?? 'ok', payload: message.text, receivedAt: this.ctx.receivedAt(index), instance: this.ctx.instance }, message.recordJson);
    const unstorable = unstorableReason(record, row.recordJson);
    if (unstorable !== undefined) return this.#refuse(message, 'rejected', 'unstorable', unstorable);
    const refusal = this.#supersede(record);
    if (refusal !== undefined) return this.#refuse(message, 'rejected', 'supersede', refusal);

    this.#known.set(id, { record, supersededBy: null });
    this.#plan.rows.push(row);
    if (seal.successor) this.#plan.healed.push({ ...seal.successor, cause: id });
    if (terminal.holdsOpen) this.#plan.resolvable.push({ terminalId, id });
    return { terminalId, id, verdict: 'accepted', record };
  }

  /** The seal, under the terminal's approved key and its chain as the database and this batch hold it. */
  #seal(
    terminal: IngestTerminal,
    { id, body, checked }: ReadableMessage,
  ): { action: 'accept'; flag?: 'unsigned' | 'gap'; successor?: VerifiedPredecessor } | { action: 'reject' | 'hold'; verdict: string; reason: string } {
    const { terminalId } = terminal;
    let chain = this.#chains.get(terminalId);
    if (!chain) this.#chains.set(terminalId, (chain = new HeldChain()));
    const judgement = decideSeal({
      terminalId,
      body,
      approvedKey: terminal.publicKey ?? undefined,
      pendingKey: terminal.pendingKey ?? undefined,
      chain,
      sealedSince: this.#sealedSince.get(terminalId),
      verify: this.ctx.verify,
      hash: this.ctx.hash,
      // Checked ahead under the key this transaction holds locked: the same check, already made.
      checked: checked !== undefined && checked.key === terminal.publicKey ? checked.check : undefined,
    });
    const { decision, link } = judgement;
    // Its successor came first (another batch, another instance, or while this one was held): flagged gap then.
    const next = link ? chain.at(link.seq + 1) : undefined;
    const successor = next && link && next.prev === link.hash && terminal.publicKey !== null ? { terminalId, publicKey: terminal.publicKey, seq: next.seq, prev: next.prev } : undefined;
    // Stored 'gap': its predecessor not verified when it came. The verifier says 'ok' for a record late into a gap it already reported; the flag still says so.
    const unchained = link !== undefined && link.seq > 1 && link.prev !== GENESIS && chain.at(link.seq - 1) === undefined;
    // A link names its record by a UUID: a genuinely signed record without one (invalid anyway) is verified but not linked.
    if (link && terminal.publicKey !== null && UUID.test(id)) {
      chain.add(link);
      this.#sealedSince.set(terminalId, Math.min(link.seq, this.#sealedSince.get(terminalId) ?? link.seq));
      const key = `${terminalId}\u0000${link.seq}`;
      if (!this.#linked.has(key)) {
        this.#linked.add(key);
        this.#plan.links.push({ terminalId, publicKey: terminal.publicKey, recordId: id, link });
      }
    }
    if (decision.action === 'accept') {
      const flag = decision.flag ?? (unchained ? 'gap' : undefined);
      return { action: 'accept', ...(flag && { flag }), ...(successor && { successor }) };
    }
    const verdict = decision.action === 'hold' ? (judgement.heldFor ?? 'unknown_key') : (judgement.report?.verdict ?? 'seal');
    return { action: decision.action, verdict, reason: decision.reason };
  }

  /**
   * One outcome per invitation (protocol/supersede.ts): a record that supersedes an earlier one
   * takes its place if that one may be replaced; when the earlier arrives after it (a backlog),
   * it is checked then, and an earlier record that may not be replaced stands, the stray one
   * being set aside in its place.
   */
  #supersede(record: UpstreamRecord): string | undefined {
    if (record.kind === 'invitation' && record.supersedes !== undefined) {
      const target = record.supersedes;
      const earlier = this.#known.get(target);
      if (earlier?.supersededBy || this.#claims.has(target)) return `supersedes: record ${target} was already superseded`;
      const refusal = earlier?.record ? supersedeRefusal(earlier.record, record) : undefined;
      if (refusal !== undefined) return refusal;
      this.#claims.set(target, record);
      if (earlier) {
        earlier.supersededBy = record.id;
        this.#plan.replaced.push({ id: target, by: record.id, cause: record.id });
      }
      return undefined;
    }
    const claim = this.#claims.get(record.id);
    if (claim && 'kind' in claim) {
      const refusal = supersedeRefusal(record, claim);
      if (refusal === undefined) this.#plan.replaced.push({ id: record.id, by: claim.id, cause: record.id });
      else this.#plan.replaced.push({ id: claim.id, by: record.id, cause: record.id });
    }
    return undefined;
  }

  #refuse(message: ReadableMessage, disposition: RefusalRow['disposition'], verdict: string, reason: string): Outcome {
    const { terminalId, id, text } = message;
    const evidence = text.length > MAX_EVIDENCE_CHARS ? `${text.slice(0, MAX_EVIDENCE_CHARS)}… (${text.length} characters, cut)` : text;
    this.#plan.refusals.push({ id, terminalId, disposition, verdict, reason: storableText(reason), payload: storableText(evidence), at: this.ctx.now });
    return { terminalId, id, verdict: disposition, reason };
  }
}
