import type { Utterance } from './utterance.js';

/** What became of an utterance: said, or nothing to say it with (a reason label with no sound made for it). */
export type PlayResult = 'played' | 'skipped';

/**
 * Says one utterance at the counter: the Pi's sound output (aplay-player.ts) or the terminal's own
 * sound module (terminal-player.ts). Resolves once it is said, or soon after `signal` aborts (cut by
 * a newer prompt); rejects with a PlaybackError a technician can act on.
 */
export interface Player {
  play(utterance: Utterance, signal: AbortSignal): Promise<PlayResult>;
}

export class PlaybackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlaybackError';
  }
}
