import { PROMPTS } from '../../protocol/voice-prompts.js';
import { PlaybackError, type Player, type PlayResult } from './player.js';
import type { Utterance } from './utterance.js';

/**
 * Has the terminal's own sound module say each prompt: a `say` frame with the prompt's clip number
 * (its sound card holds clip N as file N). A reason label has no clip: the terminal says the
 * `reason_key_N` prompts only, and the citizen reads the labels on a customer screen or the
 * window's sign (docs/audio.md). The bridge cannot hear when the terminal has finished, so a
 * prompt counts as played once sent: the terminal queues the clips in the order sent.
 */
export class TerminalPlayer implements Player {
  /** `say(clip)` sends the frame; false when no terminal is connected to send it to. */
  constructor(private readonly say: (clip: number) => boolean) {}

  play(utterance: Utterance): Promise<PlayResult> {
    if (utterance.kind === 'label') return Promise.resolve('skipped');
    const { clip } = PROMPTS[utterance.name];
    if (!this.say(clip)) return Promise.reject(new PlaybackError(`the terminal is not connected: clip ${clip} was not sent`));
    return Promise.resolve('played');
  }
}
