import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import type { SynthesisConfig } from './config.js';
import { lastLine, runProgram, spawnProgram, type Spawn } from './run-process.js';

/** Turns text into speech in a WAV file: the default prompts and the province's reason labels. */
export interface Synthesizer {
  /** Writes `text`, spoken, as a WAV file at `outFile`: whole, or not at all. Rejects with a SynthesisError. */
  synthesize(text: string, outFile: string): Promise<void>;
  /** The voice and its settings: a cached file is valid only for the settings it was made with. */
  readonly settingsKey: string;
}

export class SynthesisError extends Error {
  constructor(
    message: string,
    /** The synthesizer itself is missing (not installed): no other text will fare better. */
    readonly unavailable = false,
  ) {
    super(message);
    this.name = 'SynthesisError';
  }
}

/** The most characters ever handed to the synthesizer (a catalogue label is at most 40). */
export const MAX_SPOKEN_CHARS = 200;

/**
 * The words as the synthesizer gets them: no control characters or line breaks, none of espeak-ng's
 * markup brackets (`[[…]]` phonemes, SSML's `<…>`), spaces collapsed, at most MAX_SPOKEN_CHARS.
 */
export function spokenText(text: string): string {
  const cleaned = text
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}[\]<>{}\\]/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  return [...cleaned].slice(0, MAX_SPOKEN_CHARS).join('').trim();
}

/** espeak-ng's arguments: fixed options and the output file; the words go on stdin, never on the command line. */
export function espeakArgs(settings: SynthesisConfig, outFile: string): string[] {
  // -b 1: the input is UTF-8, whatever the locale of the service.
  return ['-v', settings.voice, '-s', String(settings.rate), '-a', String(settings.amplitude), '-b', '1', '-w', outFile, '--stdin'];
}

/** A WAV file's first bytes: RIFF, a size, WAVE. */
export function isWav(head: Uint8Array): boolean {
  const text = Buffer.from(head).toString('latin1');
  return head.length >= 12 && text.startsWith('RIFF') && text.slice(8, 12) === 'WAVE';
}

/** A WAV header alone is 44 bytes: a file no longer than that holds no sound. */
const WAV_HEADER_BYTES = 44;

/**
 * espeak-ng (Debian's package), run once per text. espeak-ng exits 0 even when it cannot write
 * its output, so the file is written beside the target, checked (RIFF, some sound), then renamed.
 */
export class EspeakSynthesizer implements Synthesizer {
  readonly settingsKey: string;

  constructor(
    private readonly settings: SynthesisConfig,
    private readonly spawn: Spawn = spawnProgram,
    private readonly command = 'espeak-ng',
  ) {
    this.settingsKey = `espeak-ng ${settings.voice} ${settings.rate} ${settings.amplitude}`;
  }

  async synthesize(text: string, outFile: string): Promise<void> {
    const words = spokenText(text);
    if (!words) throw new SynthesisError('nothing to say: the text is empty once control characters and markup are removed');
    const partial = `${outFile}.${randomBytes(4).toString('hex')}.part`;
    try {
      let end;
      try {
        end = await runProgram(this.spawn, this.command, espeakArgs(this.settings, partial), { stdin: words });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new SynthesisError(`${this.command} is not installed: the default prompts and reason labels cannot be made (apt install espeak-ng)`, true);
        throw new SynthesisError(`${this.command} could not be started: ${(err as Error).message}`, code === 'EACCES');
      }
      if (end.code !== 0) throw new SynthesisError(`${this.command} failed: ${explainEspeak(lastLine(end), this.settings.voice)}`);
      await checkWav(partial, () => `${this.command} wrote no sound for "${words}": ${end.stderr.trim() ? lastLine(end) : 'no message'}`);
      await rename(partial, outFile);
    } finally {
      await rm(partial, { force: true });
    }
  }
}

function explainEspeak(line: string, voice: string): string {
  if (/voice does not exist/i.test(line)) return `there is no voice "${voice}" (espeak-ng --voices=cmn lists the Mandarin ones; Debian's espeak-ng-data has cmn-latn-pinyin)`;
  return line;
}

async function checkWav(file: string, problem: () => string): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    throw new SynthesisError(problem());
  }
  try {
    const head = new Uint8Array(12);
    const { bytesRead } = await handle.read(head, 0, 12, 0);
    const { size } = await handle.stat();
    if (bytesRead < 12 || !isWav(head) || size <= WAV_HEADER_BYTES) throw new SynthesisError(problem());
  } finally {
    await handle.close();
  }
}
