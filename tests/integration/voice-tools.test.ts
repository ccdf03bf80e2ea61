import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesisConfigSchema } from '../../bridge/voice/config.js';
import { AplayPlayer } from '../../bridge/voice/aplay-player.js';
import { EspeakSynthesizer, isWav, SynthesisError } from '../../bridge/voice/espeak.js';
import { PlaybackError } from '../../bridge/voice/player.js';
import { PromptLibrary } from '../../bridge/voice/prompt-library.js';
import { runProgram, spawnProgram } from '../../bridge/voice/run-process.js';
import { PROMPT_NAMES } from '../../protocol/voice-prompts.js';
import { parseConfig } from '../../bridge/config.js';
import { checkVoice, silentWav } from '../../bridge/voice/probe.js';

/**
 * The real tools, as Debian packages them (CI installs espeak-ng and alsa-utils): espeak-ng's
 * Mandarin voice makes the default prompts, and aplay plays one to ALSA's null device, which
 * needs no sound card (this machine has none: the device "default" fails, as on a Pi whose card is missing).
 */
let dir: string;
let library: PromptLibrary;
const settings = synthesisConfigSchema.parse({});

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hcp-voice-tools-'));
  library = new PromptLibrary({ promptsDir: undefined, cacheDir: join(dir, 'cache'), synthesizer: new EspeakSynthesizer(settings) });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const never = new AbortController().signal;
const execFileAsync = promisify(execFile);

describe('espeak-ng and aplay', () => {
  it('espeak-ng synthesizes every default prompt and a reason label into a WAV file with sound in it', async () => {
    const report = await library.prepare([{ code: 'R1', text: '办理时间长' }]);
    expect(report.failed).toEqual([]);
    expect(report.made).toHaveLength(PROMPT_NAMES.length + 1);
    for (const name of PROMPT_NAMES) {
      const file = await library.fileFor({ kind: 'prompt', name });
      const bytes = readFileSync(file!);
      expect(isWav(bytes.subarray(0, 12)), name).toBe(true);
      // 16-bit mono at 22,050 Hz: even 按1键 is well over a quarter of a second.
      expect(bytes.length, name).toBeGreaterThan(10_000);
    }
    expect(library.synthesis).toEqual({ available: true, lastError: null });
  });

  it("says Chinese characters as Mandarin syllables with cmn-latn-pinyin (the `cmn` voice of espeak-ng 1.51 spells pinyin in English)", async () => {
    // -x prints the phonemes: "(en)" marks English ones.
    const phonemes = async (voice: string) => (await execFileAsync('espeak-ng', ['-v', voice, '-q', '-x', '--', '您好'])).stdout;
    expect(await phonemes('cmn-latn-pinyin')).not.toContain('(en)');
    expect(await phonemes('cmn')).toContain('(en)');
  });

  it('aplay plays a prompt to the null device', async () => {
    const player = new AplayPlayer({ device: 'null', library });
    expect(await player.play({ kind: 'prompt', name: 'thanks' }, never)).toBe('played');
  });

  it('aplay to a device that does not exist, or with no sound card, fails with what to do', async () => {
    await expect(new AplayPlayer({ device: 'nosuchpcm', library }).play({ kind: 'prompt', name: 'thanks' }, never)).rejects.toThrow(
      'the ALSA device "nosuchpcm" does not exist (aplay -L lists the devices; set voice.device)',
    );
    // This machine has no sound card: plughw:7,0 names one that is not there.
    await expect(new AplayPlayer({ device: 'plughw:7,0', library }).play({ kind: 'prompt', name: 'thanks' }, never)).rejects.toThrow(/^no sound card for ALSA device "plughw:7,0"/);
  });

  it('a missing aplay or espeak-ng is said plainly', async () => {
    const err = await new AplayPlayer({ device: 'null', library, command: 'aplay-not-installed' }).play({ kind: 'prompt', name: 'thanks' }, never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlaybackError);
    expect((err as Error).message).toBe('aplay-not-installed is not installed: no prompt can be played (apt install alsa-utils)');
    const synth = new EspeakSynthesizer(settings, spawnProgram, 'espeak-ng-not-installed');
    const failure = await synth.synthesize('谢谢', join(dir, 'x.wav')).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SynthesisError);
    expect(failure).toMatchObject({ unavailable: true, message: expect.stringContaining('is not installed') as unknown });
  });

  it('espeak-ng with a voice it does not have, or a folder it cannot write, fails and leaves no file', async () => {
    const badVoice = new EspeakSynthesizer(synthesisConfigSchema.parse({ voice: 'nosuchvoice' }));
    await expect(badVoice.synthesize('谢谢', join(dir, 'bad.wav'))).rejects.toThrow('there is no voice "nosuchvoice"');
    expect(() => statSync(join(dir, 'bad.wav'))).toThrow();
    // espeak-ng exits 0 when it cannot write its file: the missing file is what tells.
    await expect(new EspeakSynthesizer(settings).synthesize('谢谢', join(dir, 'no-such-folder', 'x.wav'))).rejects.toThrow(/wrote no sound/);
  });

  it('a cut stops the program at once', async () => {
    const controller = new AbortController();
    const running = runProgram(spawnProgram, 'sleep', ['30'], { signal: controller.signal });
    controller.abort();
    expect(await running).toMatchObject({ code: null, signal: 'SIGTERM' });
  });
});

describe("hcp doctor's voice checks", () => {
  const configWith = (voice: Record<string, unknown>) =>
    parseConfig({ terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H', windowNo: 'A1' }, serial: { path: '/dev/ttyUSB0' }, mqtt: { url: 'mqtt://127.0.0.1' }, database: { path: join(dir, 'hcp.db') }, voice });

  it('the silence it plays is a WAV file aplay takes', () => {
    const wav = silentWav(200);
    expect(isWav(wav)).toBe(true);
    expect(wav.length).toBe(44 + 3200 * 2);
  });

  it('the null device plays, and every prompt has a sound once built', async () => {
    const results = await checkVoice(configWith({ device: 'null', cacheDir: join(dir, 'cache') }));
    expect(results.map((r) => [r.name, r.level])).toEqual([
      ['sound device', 'ok'],
      ['voice prompts', 'ok'],
    ]);
  });

  it('a device that is not there fails with what to do; prompts not built yet are a warning while espeak-ng can make them, a failure when it cannot', async () => {
    const [device, prompts] = await checkVoice(configWith({ device: 'plughw:7,0', cacheDir: join(dir, 'empty') }));
    expect(device).toMatchObject({ level: 'fail', message: expect.stringMatching(/^no sound card for ALSA device "plughw:7,0"/) as unknown });
    expect(prompts).toMatchObject({ level: 'warn', fix: ['hcp voice build -c <config> makes them now'] });
    const [, without] = await checkVoice(configWith({ device: 'null', cacheDir: join(dir, 'empty') }), { spawn: spawnProgram, espeak: 'espeak-ng-not-installed' });
    expect(without).toMatchObject({ level: 'fail', message: expect.stringContaining('espeak-ng is missing') as unknown });
  });

  it("a hall's recording that is not WAV is named, with how to convert it", async () => {
    const hall = join(dir, 'hall-prompts');
    mkdirSync(hall);
    writeFileSync(join(hall, 'thanks.wav'), 'ID3 an mp3 file');
    const [, prompts] = await checkVoice(configWith({ device: 'null', cacheDir: join(dir, 'cache'), promptsDir: hall }));
    expect(prompts).toMatchObject({ level: 'warn', message: `not WAV files, the defaults play in their place: ${join(hall, 'thanks.wav')}` });
  });

  it('a terminal that speaks for itself needs no sound device here; no voice section, no checks', async () => {
    expect(await checkVoice(configWith({ output: 'terminal' }))).toMatchObject([{ name: 'voice', level: 'ok' }]);
    const { voice: _voice, ...none } = configWith({});
    expect(await checkVoice(none)).toEqual([]);
  });
});
