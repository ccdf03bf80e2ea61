import { SEALED_RECORD_SCHEMA } from '../../protocol/records.js';
import type { Ed25519Verify, Sha256Hex } from '../../protocol/seal/seal.js';
import { checkSeal } from '../../protocol/seal/verify.js';
import type { IngestTerminal } from '../store/terminals.js';
import { readRecordMessage, type ReadMessage } from './incoming.js';

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

/**
 * The CPU work of a message that needs no transaction, done ahead while the database works on the
 * batch before (the main thread would only wait for it): reading it (JSON, schema) and checking
 * its seal's signature under its terminal's key as the last transaction read it. The batch's
 * transaction uses that check only if the key it reads (FOR UPDATE) is the same; the chain is
 * always placed inside the transaction.
 */
export class MessagePreparer {
  /** Terminal → its approved key, as the last transaction that locked it read it. */
  readonly #keys = new Map<string, string>();

  constructor(private readonly options: { prefix: string; verify: Ed25519Verify; hash: Sha256Hex }) {}

  /** What a transaction read of its terminals: an approved key is the one to check with; any other state forgets it. */
  learnKeys(terminals: ReadonlyMap<string, IngestTerminal>): void {
    for (const [terminalId, terminal] of terminals) {
      if (terminal.status === 'approved' && terminal.publicKey !== null) {
        if (this.#keys.size >= MAX_KNOWN_TERMINALS && !this.#keys.has(terminalId)) this.#keys.clear();
        this.#keys.set(terminalId, terminal.publicKey);
      } else this.#keys.delete(terminalId);
    }
  }

  /** Reads the message (once) and checks its seal under the key known now (unless checked under it already). Never throws. */
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
    if ('read' in prepared && prepared.read.kind === 'readable' && prepared.read.body.schema === SEALED_RECORD_SCHEMA) {
      const read = prepared.read;
      const key = this.#keys.get(read.terminalId);
      if (key !== undefined && read.checked?.key !== key) {
        try {
          read.checked = { key, check: checkSeal(read.body, key, this.options.verify, this.options.hash) };
        } catch {
          // checkSeal never throws; were it to, the transaction checks it again and says why.
          read.checked = undefined;
        }
      }
    }
    return prepared;
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
      for (let i = 0; i < SLICE; i++) {
        const message = next();
        if (message === undefined) return;
        this.prepare(message);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
