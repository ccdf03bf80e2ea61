import type { PromptLibrary } from './prompt-library.js';
import { PlaybackError, type Player, type PlayResult } from './player.js';
import { lastLine, runProgram, spawnProgram, type ProgramEnd, type Spawn } from './run-process.js';
import type { Utterance } from './utterance.js';

/** aplay's arguments: quiet, the device, and the file after `--` (a path is never taken for an option). */
export function aplayArgs(device: string, file: string): string[] {
  return ['-q', '-D', device, '--', file];
}

/** What aplay's failure means, in words a technician can act on. */
export function explainAplay(end: ProgramEnd, device: string, file: string): string {
  const err = end.stderr;
  if (/Unknown PCM/i.test(err)) return `the ALSA device "${device}" does not exist (aplay -L lists the devices; set voice.device)`;
  if (/cannot find card|Cannot get card index|no soundcards found/i.test(err))
    return `no sound card for ALSA device "${device}" (aplay -l lists the cards: is the USB sound card or the amplifier HAT plugged in and enabled? see docs/audio.md)`;
  if (/Device or resource busy/i.test(err)) return `the sound device "${device}" is busy: another program plays on it (use a shared device such as default or plug:dmix)`;
  if (/Permission denied/i.test(err)) return `no permission to use the sound device "${device}": the service's user must be in the audio group`;
  if (err.includes(file) && /No such file or directory/i.test(err)) return `the prompt file ${file} is missing`;
  return `aplay failed on "${device}": ${lastLine(end)}`;
}

/** Plays each utterance's WAV file with ALSA's aplay, to the end; a cut stops aplay. */
export class AplayPlayer implements Player {
  constructor(
    private readonly opts: { device: string; library: Pick<PromptLibrary, 'fileFor'>; spawn?: Spawn; command?: string },
  ) {}

  async play(utterance: Utterance, signal: AbortSignal): Promise<PlayResult> {
    const file = await this.opts.library.fileFor(utterance);
    if (file === undefined || signal.aborted) return 'skipped';
    const command = this.opts.command ?? 'aplay';
    let end: ProgramEnd;
    try {
      end = await runProgram(this.opts.spawn ?? spawnProgram, command, aplayArgs(this.opts.device, file), { signal });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new PlaybackError(`${command} is not installed: no prompt can be played (apt install alsa-utils)`);
      throw new PlaybackError(`${command} could not be started: ${(err as Error).message}`);
    }
    if (signal.aborted) return 'played';
    if (end.code !== 0) throw new PlaybackError(explainAplay(end, this.opts.device, file));
    return 'played';
  }
}
