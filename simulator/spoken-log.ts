import { writeFileSync } from 'node:fs';
import type { Synthesizer } from '../bridge/voice/espeak.js';
import { silentWav } from '../bridge/voice/probe.js';
import { PlaybackError, type Player, type PlayResult } from '../bridge/voice/player.js';
import { describeUtterance, type Utterance } from '../bridge/voice/utterance.js';

/**
 * A speaker for a machine with no sound: each utterance is said at once into a list (and to
 * `sink`, e.g. the hall's activity log as "VOICE W01 invite (您好，请您对本次服务进行评价)").
 * `failWith` makes it fail as a missing sound card would, until set back to null.
 */
export class SpokenLog implements Player {
  /** What was said, in order: a prompt's name, or `label:<text>` for a reason's label. */
  readonly said: string[] = [];
  failWith: string | null = null;

  constructor(private readonly sink?: (line: string) => void) {}

  play(u: Utterance): Promise<PlayResult> {
    if (this.failWith !== null) return Promise.reject(new PlaybackError(this.failWith));
    this.said.push(u.kind === 'prompt' ? u.name : `label:${u.text}`);
    this.sink?.(describeUtterance(u));
    return Promise.resolve('played');
  }
}

/**
 * Stands in for espeak-ng where SpokenLog speaks (the simulated hall): every prompt is "made" as a
 * moment of silence, at once, so that the status lists no prompt as missing.
 */
export const silentSynthesizer: Synthesizer = {
  settingsKey: 'simulated-silence',
  synthesize: (_text, outFile) => Promise.resolve(writeFileSync(outFile, silentWav(100))),
};
