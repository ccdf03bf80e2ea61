import type { ChainLink, ChainView } from './verify.js';

/** A range of a terminal's sequence numbers no verified record holds (yet). */
export interface Gap {
  from: number;
  to: number;
}

/**
 * One terminal's chain as a receiver holds it in memory (the province emulator, tests): the
 * verified records' links by seq, and the gaps between them. A receiver with a database keeps
 * the same three facts per record (seq, hash, prev) in a table.
 */
export class HeldChain implements ChainView {
  readonly #links = new Map<number, ChainLink>();
  #last: ChainLink | undefined;

  at(seq: number): ChainLink | undefined {
    return this.#links.get(seq);
  }

  last(): ChainLink | undefined {
    return this.#last;
  }

  /** Keeps a link the verifier passed (ok or gap). */
  add(link: ChainLink): void {
    this.#links.set(link.seq, link);
    if (!this.#last || link.seq > this.#last.seq) this.#last = link;
  }

  /**
   * The seqs missing below the newest verified record, oldest first. A chain that starts afresh
   * (`prev` the genesis value, after unsealed records) leaves no gap before it.
   */
  gaps(genesis: string): Gap[] {
    const seqs = [...this.#links.keys()].sort((a, b) => a - b);
    const gaps: Gap[] = [];
    let expected = 1;
    for (const seq of seqs) {
      const link = this.#links.get(seq) as ChainLink;
      if (seq > expected && link.prev !== genesis) gaps.push({ from: expected, to: seq - 1 });
      expected = seq + 1;
    }
    return gaps;
  }
}
