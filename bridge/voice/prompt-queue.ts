import type { Timers } from '../../protocol/timers.js';
import type { Player, PlayResult } from './player.js';
import type { Utterance } from './utterance.js';

/** How one utterance ended: said, nothing to say it with, cut by a newer state, or failed (why). */
export type UtteranceEnd = { result: PlayResult } | { result: 'cut' } | { result: 'failed'; error: string };

export interface PromptQueueOptions {
  player: Player;
  timers: Timers;
  /** The longest one utterance may take; past it, it is stopped and counted as failed (a hung device). */
  maxPromptMs: number;
  onEnd: (end: UtteranceEnd) => void;
}

/**
 * What is said at the counter, one utterance at a time, never in the way of a rating: callers only
 * queue, the playing runs on its own. A new state (`replace`) cuts what is playing and drops what
 * waits (the thanks cuts the invite prompt still playing); an announcement (`append`) waits its turn.
 * The next utterance starts only once the cut one has stopped: two never play over each other.
 */
export class PromptQueue {
  private waiting: Utterance[] = [];
  private current: AbortController | undefined;
  private stopped = false;

  constructor(private readonly opts: PromptQueueOptions) {}

  /** A new state: these, in order, in place of whatever is playing or waiting. */
  replace(utterances: readonly Utterance[]): void {
    this.waiting = [...utterances];
    this.current?.abort('cut');
    this.next();
  }

  /** After what is waiting; one already waiting is not queued again (staff pressing 一米线 twice). */
  append(utterances: readonly Utterance[]): void {
    for (const u of utterances) if (!this.waiting.some((w) => sameUtterance(w, u))) this.waiting.push(u);
    this.next();
  }

  /** Cuts what is playing and forgets what waits; nothing plays after. */
  stop(): void {
    this.stopped = true;
    this.waiting = [];
    this.current?.abort('cut');
  }

  private next(): void {
    if (this.current || this.stopped) return;
    const utterance = this.waiting.shift();
    if (!utterance) return;
    const controller = (this.current = new AbortController());
    const { timers, maxPromptMs } = this.opts;
    let settled = false;
    const settle = (end: UtteranceEnd): void => {
      if (settled) return;
      settled = true;
      timers.clearTimeout(timer);
      this.current = undefined;
      // Cut by a newer state: whatever the player made of being stopped (an error, a result), it was cut.
      this.opts.onEnd(controller.signal.aborted ? { result: 'cut' } : end);
      this.next();
    };
    // A player that does not come back in time is stopped and given up on: the queue moves on.
    const timer = timers.setTimeout(() => {
      // No words of the prompt: 请选择不满意的原因 or a reason's label would tell a bad grade in the status and the log.
      const error = `a prompt did not finish within ${maxPromptMs / 1000} s: stopped (is the sound device hung?)`;
      settle({ result: 'failed', error });
      controller.abort();
    }, maxPromptMs);
    let playing: Promise<PlayResult>;
    try {
      playing = this.opts.player.play(utterance, controller.signal);
    } catch (err) {
      playing = Promise.reject(err as Error);
    }
    playing.then(
      (result) => settle({ result }),
      (err: unknown) => settle({ result: 'failed', error: err instanceof Error ? err.message : String(err) }),
    );
  }
}

function sameUtterance(a: Utterance, b: Utterance): boolean {
  return a.kind === 'prompt' ? b.kind === 'prompt' && a.name === b.name : b.kind === 'label' && a.code === b.code && a.text === b.text;
}
