import type { Worker } from 'node:worker_threads';
import { siblingModule, startModuleWorker } from './module-worker.js';
import { packChecks, type SignatureCheck } from './signature-batch.js';

/** Checks Ed25519 signatures in batches, away from the caller's thread. */
export interface BatchVerifier {
  /** One verdict per check, in order. Rejects if the checks could not be made (the caller then checks them itself). */
  verifyAll(checks: readonly SignatureCheck[]): Promise<boolean[]>;
  close(): Promise<void>;
}

type Answer = { id: number; results: Uint8Array } | { id: number; error: string };

/**
 * A worker thread checking signatures (verify-worker.ts). The gateway's main thread spends about
 * a third of its time per record on the Ed25519 check; there, every transaction in flight waits
 * for it between two statements. In a thread of its own it runs beside them, on another core.
 * A dead worker fails what was asked of it and everything after: the caller checks those itself.
 */
export class VerifyThread implements BatchVerifier {
  /** Started at the first batch: a gateway that never sees a sealed record under load never starts it. */
  #worker: Worker | undefined;
  readonly #pending = new Map<number, { resolve: (verdicts: boolean[]) => void; reject: (err: Error) => void }>();
  #nextId = 0;
  #failure: Error | undefined;

  constructor(private readonly start: () => Worker = () => startModuleWorker(siblingModule(import.meta.url, 'verify-worker'))) {}

  verifyAll(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    if (checks.length === 0) return Promise.resolve([]);
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const bytes = packChecks(checks);
    const worker = (this.#worker ??= this.#started());
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, bytes }, [bytes.buffer]);
    });
  }

  async close(): Promise<void> {
    this.#fail(new Error('the signature thread was closed'));
    await this.#worker?.terminate();
  }

  #started(): Worker {
    const worker = this.start();
    // The gateway's stop closes it; it never keeps a process alive on its own.
    worker.unref();
    worker.on('message', (answer: Answer) => this.#answer(answer));
    worker.on('error', (err) => this.#fail(err));
    worker.on('exit', (code) => this.#fail(new Error(`the signature thread exited (code ${code})`)));
    return worker;
  }

  #answer(answer: Answer): void {
    const waiting = this.#pending.get(answer.id);
    if (!waiting) return;
    this.#pending.delete(answer.id);
    if ('error' in answer) waiting.reject(new Error(`signature thread: ${answer.error}`));
    else waiting.resolve(Array.from(answer.results, (r) => r === 1));
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const { reject } of this.#pending.values()) reject(this.#failure);
    this.#pending.clear();
  }
}
