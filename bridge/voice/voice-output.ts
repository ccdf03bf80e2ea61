import type { PromptName } from '../../protocol/voice-prompts.js';
import { voiceCacheDir, type VoiceConfig } from './config.js';
import { AplayPlayer } from './aplay-player.js';
import { EspeakSynthesizer, type Synthesizer } from './espeak.js';
import type { Player } from './player.js';
import { PromptLibrary, type SynthesisState } from './prompt-library.js';
import type { UtteranceEnd } from './prompt-queue.js';
import { TerminalPlayer } from './terminal-player.js';

/** The voice block of the bridge's status. */
export type VoiceStatus =
  | { configured: false }
  | {
      configured: true;
      output: VoiceConfig['output'];
      /** The ALSA device (output alsa); null when the terminal plays. */
      device: string | null;
      played: number;
      failed: number;
      /** Nothing to say them with: a reason's label on the terminal or without a synthesizer (its key prompt was said), a prompt not made yet. */
      skipped: number;
      /** Cut short by a newer prompt (the thanks cutting the invite prompt). */
      cut: number;
      /** The last utterance could not be played: the sound_device alarm. Cleared when one plays again. */
      fault: boolean;
      lastError: string | null;
      /** Synthesis of the default prompts and the reason labels (output alsa); null when the terminal plays. */
      synthesis: SynthesisState | null;
      /** Prompts with no sound at all: no recording, none synthesized (output alsa). */
      missingPrompts: PromptName[];
      /** The hall's recordings that are not WAV files: the defaults play in their place. */
      badRecordings: string[];
    };

/** Counts what became of each utterance: the status and the sound_device alarm read it. */
export class VoiceTally {
  played = 0;
  failed = 0;
  skipped = 0;
  cut = 0;
  fault = false;
  lastError: string | null = null;

  count(end: UtteranceEnd): void {
    if (end.result === 'failed') {
      this.failed += 1;
      this.fault = true;
      this.lastError = end.error;
    } else if (end.result === 'played') {
      this.played += 1;
      this.fault = false;
    } else if (end.result === 'skipped') this.skipped += 1;
    else this.cut += 1;
  }
}

/** The voice's parts as the bridge builds them from its config: who plays, where prompts come from, the counts. */
export interface VoiceOutput {
  config: VoiceConfig;
  player: Player;
  /** Output alsa: the prompt files. Output terminal: none (the terminal holds its clips). */
  library: PromptLibrary | undefined;
  tally: VoiceTally;
  status(): VoiceStatus;
}

/** Stand-ins for the real player and synthesizer (tests, the simulated hall). */
export interface VoiceDeps {
  player?: Player;
  synthesizer?: Synthesizer;
}

/**
 * Builds the voice from the config: aplay and espeak-ng for output alsa, `say` frames for output
 * terminal (`sayOnTerminal` sends one; false when no terminal is connected).
 */
export function voiceOutput(config: VoiceConfig, databasePath: string, sayOnTerminal: (clip: number) => boolean, deps: VoiceDeps = {}): VoiceOutput {
  const tally = new VoiceTally();
  const library =
    config.output === 'alsa'
      ? new PromptLibrary({ promptsDir: config.promptsDir, cacheDir: voiceCacheDir(config, databasePath), synthesizer: deps.synthesizer ?? new EspeakSynthesizer(config.synthesis) })
      : undefined;
  const player = deps.player ?? (library ? new AplayPlayer({ device: config.device, library }) : new TerminalPlayer(sayOnTerminal));
  return {
    config,
    player,
    library,
    tally,
    status: () => ({
      configured: true,
      output: config.output,
      device: config.output === 'alsa' ? config.device : null,
      played: tally.played,
      failed: tally.failed,
      skipped: tally.skipped,
      cut: tally.cut,
      fault: tally.fault,
      lastError: tally.lastError,
      synthesis: library?.synthesis ?? null,
      missingPrompts: library?.missingPrompts() ?? [],
      badRecordings: library?.badRecordings() ?? [],
    }),
  };
}
