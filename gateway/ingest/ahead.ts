import { SEALED_RECORD_SCHEMA } from '../../protocol/records.js';
import type { Ed25519Verify, Sha256Hex } from '../../protocol/seal/seal.js';
import { checkSeal, type SealCheck } from '../../protocol/seal/verify.js';
import type { IngestTerminal } from '../store/terminals.js';
import { readRecordMessage, type ReadableMessage, type ReadMessage } from './incoming.js';
import type { SignatureCheck } from './signature-batch.js';
import type { BatchVerifier } from './verify-thread.js';

/** A queued message, read ahead of its batch (or the reading threw: a bug, logged when its batch settles). */
export type Prepared = { read: ReadMessage } | { error: unknown };

export interface Preparable {
  topic: string;
  payload: Buffer;
  prepared?: Prepared;
}

/** Messages prepared between two turns of the event loop (about 2 ms: a signature is most of a message's cost). */
const SLICE = 8;
const MAX_KNOWN_TERMINALS = 100_000;

/** A message whose signatures went to the verify thread: checks[from, to) are its, `check` what its seal is if they verify. */
interface Sent {
  read: ReadableMessage;
  key: string;
  check: SealCheck;
  from: number;
  to: number;
}

export interface PreparerOptions {
  prefix: string;
  verify: Ed25519Verify;
  hash: Sha256Hex;
  /** Where signatures are checked, if not on this thread (verify-thread.ts). */
  offThread?: BatchVerifier;
  /** The verify thread failed a batch: its messages are checked by their transaction instead. */
  onOffThreadFailure?: (err: unknown) => void;
}

/**
 * The CPU work of a message that needs no transaction, done ahead while the database works on the
 * batch before (the main thread would only wait for it): reading it (JSON, schema) and checking
 * its seal's signature under its terminal's key as the last transaction read it, on this thread
 * or on a verify thread. The batch's transaction uses that check only if the key it reads (FOR
 * UPDATE) is the same; the chain is always placed inside the transaction.
 */
export class MessagePreparer {
  /** Terminal → its approved key, as the last transaction that locked it read it. */
  readonly #keys = new Map<string, string>();

  constructor(private readonly options: PreparerOptions) {}

  /** What a transaction read of its terminals: an approved key is the one to check with; any other state forgets it. */
  learnKeys(terminals: ReadonlyMap<string, IngestTerminal>): void {
    for (const [terminalId, terminal] of terminals) {
      if (terminal.status === 'approved' && terminal.publicKey !== null) {
        if (this.#keys.size >= MAX_KNOWN_TERMINALS && !this.#keys.has(terminalId)) this.#keys.clear();
        this.#keys.set(terminalId, terminal.publicKey);
      } else this.#keys.delete(terminalId);
    }
  }

  /**
   * Reads the message (once) and, without a verify thread, checks its seal under the key known
   * now (unless checked under it already). Never throws.
   */
  prepare(message: Preparable): Prepared {
    if (!message.prepared) {
      try {
        const read = readRecordMessage(message.topic, message.payload, this.options.prefix);
        if (read.kind === 'readable' && read.decoded.kind === 'record') read.recordJson = JSON.stringify(read.decoded.record);
        message.prepared = { read };
      } catch (err) {
        return (message.prepared = { error: err });
      }
    }
    const prepared = message.prepared;
    if (this.options.offThread) return prepared;
    const key = this.#keyToCheck(prepared);
    if (key !== undefined && 'read' in prepared && prepared.read.kind === 'readable') {
      const read = prepared.read;
      try {
        read.checked = { key, check: checkSeal(read.body, key, this.options.verify, this.options.hash) };
      } catch {
        // checkSeal never throws; were it to, the transaction checks it again and says why.
        read.checked = undefined;
      }
    }
    return prepared;
  }

  /**
   * With a verify thread: reads the messages, sends the signatures not yet checked (nor sent)
   * under the key known now to the thread in one batch, and resolves when every message's check
   * is back, theirs and those sent before. Never rejects: a check not made is made by the
   * transaction. Without a verify thread, prepare() has checked them already.
   */
  async checkOffThread(messages: readonly Preparable[]): Promise<void> {
    const thread = this.options.offThread;
    if (!thread) return;
    const checks: SignatureCheck[] = [];
    const sent: Sent[] = [];
    const waits: Promise<void>[] = [];
    for (const message of messages) {
      const prepared = this.prepare(message);
      const key = this.#keyToCheck(prepared);
      if (!('read' in prepared) || prepared.read.kind !== 'readable') continue;
      const read = prepared.read;
      if (key === undefined) {
        if (read.pending) waits.push(read.pending.done);
        continue;
      }
      const from = checks.length;
      let check: SealCheck;
      try {
        // Everything but the signatures themselves: those are taken down, said to verify for now, and checked on the thread.
        check = checkSeal(read.body, key, (publicKey, signed, signature) => checks.push({ publicKey, message: signed, signature }) > 0, this.options.hash);
      } catch {
        continue; // checkSeal never throws; were it to, the transaction checks it again and says why
      }
      if (check.verdict !== 'genuine' || checks.length === from) read.checked = { key, check }; // decided without a signature
      else sent.push({ read, key, check, from, to: checks.length });
    }
    if (sent.length > 0) {
      const done = this.#settleSent(thread.verifyAll(checks), sent);
      for (const item of sent) item.read.pending = { key: item.key, done };
      waits.push(done);
    }
    await Promise.all(waits);
  }

  async #settleSent(verdicts: Promise<boolean[]>, sent: readonly Sent[]): Promise<void> {
    let results: boolean[];
    try {
      results = await verdicts;
    } catch (err) {
      this.options.onOffThreadFailure?.(err);
      return;
    } finally {
      for (const { read, key } of sent) if (read.pending?.key === key) read.pending = undefined;
    }
    for (const { read, key, check, from, to } of sent) {
      if (read.checked?.key === key) continue;
      if (results.slice(from, to).every(Boolean)) {
        // Every signature verified: the check made before, which took them to verify, stands.
        read.checked = { key, check };
      } else {
        // A signature failed: the check again with the thread's verdicts, for its exact verdict and reason.
        let at = from;
        read.checked = { key, check: checkSeal(read.body, key, () => results[at++] === true, this.options.hash) };
      }
    }
  }

  /** The key a readable sealed message is to be checked under now, unless it was checked (or sent) under it already. */
  #keyToCheck(prepared: Prepared): string | undefined {
    if (!('read' in prepared) || prepared.read.kind !== 'readable' || prepared.read.body.schema !== SEALED_RECORD_SCHEMA) return undefined;
    const read = prepared.read;
    const key = this.#keys.get(read.terminalId);
    if (key === undefined || read.checked?.key === key || read.pending?.key === key) return undefined;
    return key;
  }

  /**
   * While `busy` is pending, prepares the messages `next` hands out (undefined: none left now), a
   * slice at a time, giving the event loop a turn between slices (the transactions in flight go
   * on). `next` is asked again at each message, not read once: other lanes take batches from the
   * queue meanwhile, and what they leave is what comes next. Stops when `busy` settles or nothing
   * is left. Never rejects.
   */
  async prepareWhile(busy: Promise<unknown>, next: () => Preparable | undefined): Promise<void> {
    let settled = false;
    void busy.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled) {
      const slice: Preparable[] = [];
      for (let i = 0; i < SLICE; i++) {
        const message = next();
        if (message === undefined) break;
        this.prepare(message);
        slice.push(message);
      }
      // Sent to the thread, not awaited: the next slice is read meanwhile.
      if (slice.length > 0) void this.checkOffThread(slice);
      if (slice.length < SLICE) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
