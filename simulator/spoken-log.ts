import { writeFileSync } from 'node:fs';
import type { Synthesizer } from '../bridge/voice/espeak.js';
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

/** 0.1 s of silence as a WAV file (16 kHz, 16-bit mono). */
function silentWav(): Buffer {
  const samples = 1600;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0, 'ascii');
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8, 'ascii');
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(16_000, 24);
  wav.writeUInt32LE(32_000, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36, 'ascii');
  wav.writeUInt32LE(samples * 2, 40);
  return wav;
}

/**
 * Stands in for espeak-ng where SpokenLog speaks (the simulated hall): every prompt is "made" as a
 * moment of silence, at once, so that the status lists no prompt as missing.
 */
export const silentSynthesizer: Synthesizer = {
  settingsKey: 'simulated-silence',
  synthesize: (_text, outFile) => Promise.resolve(writeFileSync(outFile, silentWav())),
};
