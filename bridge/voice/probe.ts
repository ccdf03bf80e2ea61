import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorText, fail, ok, warn, type CheckResult } from '../diagnose/check.js';
import type { BridgeConfig } from '../config.js';
import { AplayPlayer } from './aplay-player.js';
import { voiceCacheDir } from './config.js';
import { EspeakSynthesizer } from './espeak.js';
import { PromptLibrary } from './prompt-library.js';
import { runProgram, spawnProgram, type Spawn } from './run-process.js';

/** A WAV file of `ms` of silence, 16 kHz mono 16-bit: what the probe plays, so that nobody hears it. */
export function silentWav(ms: number): Buffer {
  const samples = Math.round((16_000 * ms) / 1000);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + samples * 2, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(16_000, 24);
  header.writeUInt32LE(32_000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(samples * 2, 40);
  return Buffer.concat([header, Buffer.alloc(samples * 2)]);
}

export interface VoiceProbeDeps {
  spawn: Spawn;
  /** Synthesizer command (espeak-ng); another name in tests stands for a machine without it. */
  espeak?: string;
  aplay?: string;
}

/**
 * `hcp doctor`'s voice checks (none without a `voice` section): the sound device plays a short
 * silence, and every prompt has a sound (the hall's recording or a synthesized default).
 */
export async function checkVoice(config: BridgeConfig, deps: VoiceProbeDeps = { spawn: spawnProgram }): Promise<CheckResult[]> {
  const { voice } = config;
  if (!voice) return [];
  if (voice.output === 'terminal') return [ok('voice', "prompts are played by the terminal's own sound module (say frames; clips 1-15, see docs/audio.md)")];
  const synthesizer = new EspeakSynthesizer(voice.synthesis, deps.spawn, deps.espeak);
  const library = new PromptLibrary({ promptsDir: voice.promptsDir, cacheDir: voiceCacheDir(voice, config.database.path), synthesizer });
  return [await checkDevice(voice.device, deps), await checkPrompts(library, deps)];
}

async function checkDevice(device: string, deps: VoiceProbeDeps): Promise<CheckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hcp-voice-probe-'));
  try {
    const file = join(dir, 'silence.wav');
    writeFileSync(file, silentWav(200));
    const player = new AplayPlayer({ device, library: { fileFor: () => Promise.resolve(file) }, spawn: deps.spawn, command: deps.aplay });
    await player.play({ kind: 'prompt', name: 'greeting' }, new AbortController().signal);
    return ok('sound device', `"${device}" plays (a short silence was played)`);
  } catch (err) {
    return fail('sound device', errorText(err), ['aplay -l lists the sound cards, aplay -L the device names: set voice.device (docs/audio.md)']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkPrompts(library: PromptLibrary, deps: VoiceProbeDeps): Promise<CheckResult> {
  const missing = library.missingPrompts();
  let espeak: boolean;
  try {
    espeak = (await runProgram(deps.spawn, deps.espeak ?? 'espeak-ng', ['--version'])).code === 0;
  } catch {
    espeak = false;
  }
  const bad = library.badRecordings();
  if (missing.length === 0 && bad.length)
    return warn('voice prompts', `not WAV files, the defaults play in their place: ${bad.join(', ')}`, ['convert them: ffmpeg -i <recording> -ac 1 -ar 16000 -sample_fmt s16 <name>.wav (docs/audio.md)']);
  if (missing.length === 0 && espeak) return ok('voice prompts', 'every prompt has a sound; reason labels are synthesized when the catalogue comes');
  if (missing.length === 0) return warn('voice prompts', 'every prompt has a sound, but espeak-ng is missing: reasons are said by their button numbers only', ['apt install espeak-ng']);
  return espeak
    ? warn('voice prompts', `not synthesized yet: ${missing.join(', ')} (the service makes them at start)`, ['hcp voice build -c <config> makes them now'])
    : fail('voice prompts', `no sound for ${missing.join(', ')} and espeak-ng is missing to make them`, ['apt install espeak-ng, then hcp voice build -c <config>', 'or put recordings <name>.wav in voice.promptsDir (docs/audio.md)']);
}
