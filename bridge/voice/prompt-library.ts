import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROMPT_NAMES, PROMPTS, type PromptName } from '../../protocol/voice-prompts.js';
import { isWav, SynthesisError, type Synthesizer } from './espeak.js';
import type { Utterance } from './utterance.js';

/** A reason code that can name a file of the hall's own recording (a code with a slash or dots cannot). */
const FILE_SAFE_CODE = /^[A-Za-z0-9_-]{1,32}$/;

/** What the library can say of synthesis, for the status. */
export interface SynthesisState {
  /** null until it was first tried; false when the synthesizer is missing (reasons are said by their keys only). */
  available: boolean | null;
  lastError: string | null;
}

export interface PromptLibraryOptions {
  /** The hall's own recordings (voice.promptsDir), if it has any. */
  promptsDir: string | undefined;
  /** Where synthesized prompts are kept, by a hash of their text and the synthesizer's settings. */
  cacheDir: string;
  synthesizer: Synthesizer;
}

/**
 * Where each utterance's sound comes from. A prompt: the hall's recording `<promptsDir>/<name>.wav`,
 * else the default synthesized from its text (protocol/voice-prompts.ts). A reason label: the
 * hall's `<promptsDir>/reason_<code>.wav`, else its text synthesized. Synthesized files are cached
 * under a hash of the text and the synthesizer's settings: a new text, voice or speed makes a new
 * file, an unchanged one is never made twice.
 */
export class PromptLibrary {
  private readonly inFlight = new Map<string, Promise<string | undefined>>();
  private readonly state: SynthesisState = { available: null, lastError: null };
  /** The hall's files that are not WAV (aplay would play them as noise): left aside, the default plays. */
  private readonly notWav = new Set<string>();
  private readonly promptsDir: string | undefined;
  private closed = false;

  constructor(private readonly opts: PromptLibraryOptions) {
    this.promptsDir = opts.promptsDir === undefined ? undefined : resolve(opts.promptsDir);
  }

  get synthesis(): SynthesisState {
    return { ...this.state };
  }

  /** The hall's own recording for this utterance, if it has one. */
  recordingOf(u: Utterance): string | undefined {
    if (this.promptsDir === undefined) return undefined;
    const name = u.kind === 'prompt' ? u.name : FILE_SAFE_CODE.test(u.code) ? `reason_${u.code}` : undefined;
    const file = name === undefined ? undefined : join(this.promptsDir, `${name}.wav`);
    if (file === undefined) return undefined;
    const kind = wavFile(file);
    if (kind === 'not_wav') this.notWav.add(file);
    else this.notWav.delete(file);
    return kind === 'wav' ? file : undefined;
  }

  /** Where the synthesized sound of `text` is cached (whether or not it is there yet). */
  cachedFile(text: string): string {
    const hash = createHash('sha256').update(`${this.opts.synthesizer.settingsKey}\n${text}`).digest('hex').slice(0, 20);
    return join(this.opts.cacheDir, `${hash}.wav`);
  }

  /**
   * The file to play: the recording, the cached synthesis, or one synthesized now (once, however
   * many ask at the same time); undefined when there is none and none can be made.
   */
  fileFor(u: Utterance): Promise<string | undefined> {
    const recording = this.recordingOf(u);
    if (recording !== undefined) return Promise.resolve(recording);
    return this.synthesized(textOf(u));
  }

  /**
   * Makes what is missing from the cache: every default prompt a recording does not replace, and
   * these further texts (the reason labels of the catalogue in use). Never rejects.
   */
  async prepare(labels: readonly { code: string; text: string }[] = []): Promise<PrepareReport> {
    const wanted: Utterance[] = [...PROMPT_NAMES.map((name): Utterance => ({ kind: 'prompt', name })), ...labels.map((l): Utterance => ({ kind: 'label', ...l }))];
    const report: PrepareReport = { recorded: [], cached: [], made: [], failed: [] };
    // One at a time: at a Pi's boot, beside the service starting, not thirteen synthesizers at once.
    for (const u of wanted) {
      const what = u.kind === 'prompt' ? u.name : `reason_${u.code}`;
      if (this.recordingOf(u) !== undefined) report.recorded.push(what);
      else if (existsSync(this.cachedFile(textOf(u)))) report.cached.push(what);
      else if ((await this.synthesized(textOf(u))) === undefined) report.failed.push({ what, error: this.state.lastError ?? 'not made' });
      else report.made.push(what);
    }
    return report;
  }

  /** Makes nothing more (the bridge stops): what is being made is finished, nothing is started. */
  close(): void {
    this.closed = true;
  }

  /** The prompts with no sound at all: no recording, nothing cached. */
  missingPrompts(): PromptName[] {
    return PROMPT_NAMES.filter((name) => this.recordingOf({ kind: 'prompt', name }) === undefined && !existsSync(this.cachedFile(PROMPTS[name].text)));
  }

  /** The hall's recordings found not to be WAV files (the default is played in their place). */
  badRecordings(): string[] {
    return [...this.notWav].sort();
  }

  private synthesized(text: string): Promise<string | undefined> {
    const file = this.cachedFile(text);
    if (existsSync(file)) return Promise.resolve(file);
    if (this.state.available === false || this.closed) return Promise.resolve(undefined);
    const pending = this.inFlight.get(file);
    if (pending) return pending;
    const made = this.make(text, file).finally(() => this.inFlight.delete(file));
    this.inFlight.set(file, made);
    return made;
  }

  private async make(text: string, file: string): Promise<string | undefined> {
    try {
      mkdirSync(this.opts.cacheDir, { recursive: true });
      await this.opts.synthesizer.synthesize(text, file);
      this.state.available = true;
      return file;
    } catch (err) {
      this.state.lastError = (err as Error).message;
      if (err instanceof SynthesisError && err.unavailable) this.state.available = false;
      return undefined;
    }
  }
}

export interface PrepareReport {
  /** Replaced by the hall's own recordings. */
  recorded: string[];
  /** Already synthesized. */
  cached: string[];
  made: string[];
  failed: { what: string; error: string }[];
}

function textOf(u: Utterance): string {
  return u.kind === 'prompt' ? PROMPTS[u.name].text : u.text;
}

/** Whether a file is there and is a WAV file (RIFF…WAVE): aplay takes anything else for raw sound. */
function wavFile(path: string): 'missing' | 'wav' | 'not_wav' {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 'missing';
  }
  try {
    const head = new Uint8Array(12);
    const read = readSync(fd, head, 0, 12, 0);
    return isWav(head.subarray(0, read)) ? 'wav' : 'not_wav';
  } catch {
    return 'not_wav';
  } finally {
    closeSync(fd);
  }
}
