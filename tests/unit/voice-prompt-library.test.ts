import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadConfigFile } from '../../bridge/config.js';
import { ReasonCatalogStore } from '../../bridge/province/reason-catalog.js';
import { openDatabase } from '../../bridge/store/database.js';
import { Settings } from '../../bridge/store/settings.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BridgeEvents } from '../../bridge/bridge-events.js';
import { Voice } from '../../bridge/features/voice.js';
import { silentLogger } from '../../bridge/log.js';
import { voiceCacheDir, voiceConfigSchema } from '../../bridge/voice/config.js';
import { SynthesisError, type Synthesizer } from '../../bridge/voice/espeak.js';
import type { Player } from '../../bridge/voice/player.js';
import { PromptLibrary } from '../../bridge/voice/prompt-library.js';
import { voiceOutput } from '../../bridge/voice/voice-output.js';
import type { ReasonCatalog } from '../../protocol/province-config.js';
import { PROMPT_NAMES, PROMPTS } from '../../protocol/voice-prompts.js';
import { ManualTimers } from '../support/manual-timers.js';

/** Writes the text as the "sound", so that a test can see which text a file was made from. */
class FakeSynthesizer implements Synthesizer {
  readonly settingsKey = 'fake 1';
  readonly texts: string[] = [];
  missing = false;

  synthesize(text: string, outFile: string): Promise<void> {
    this.texts.push(text);
    if (this.missing) return Promise.reject(new SynthesisError('espeak-ng is not installed', true));
    writeFileSync(outFile, text);
    return Promise.resolve();
  }
}

/** The start of a WAV file: what the library checks a hall's recording by. */
const WAV = 'RIFF\u0024\u0000\u0000\u0000WAVEfmt ';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hcp-voice-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function library(synthesizer = new FakeSynthesizer(), promptsDir: string | undefined = join(dir, 'hall')) {
  return { synthesizer, library: new PromptLibrary({ promptsDir, cacheDir: join(dir, 'cache'), synthesizer }) };
}

describe('the prompt library', () => {
  it("synthesizes a prompt's default text once and caches it by a hash of the text and the settings", async () => {
    const { synthesizer, library: lib } = library();
    const [a, b] = await Promise.all([lib.fileFor({ kind: 'prompt', name: 'invite' }), lib.fileFor({ kind: 'prompt', name: 'invite' })]);
    expect(a).toBe(b);
    expect(a).toMatch(new RegExp(`^${join(dir, 'cache')}/[0-9a-f]{20}\\.wav$`));
    expect(readFileSync(a!, 'utf8')).toBe(PROMPTS.invite.text);
    await lib.fileFor({ kind: 'prompt', name: 'invite' });
    expect(synthesizer.texts).toEqual([PROMPTS.invite.text]);
    const other = new PromptLibrary({ promptsDir: undefined, cacheDir: join(dir, 'cache'), synthesizer: Object.assign(new FakeSynthesizer(), { settingsKey: 'fake 2' }) });
    expect(other.cachedFile(PROMPTS.invite.text)).not.toBe(a);
  });

  it("plays the hall's own recording in place of the default, for a prompt and for a reason by its code", async () => {
    const { synthesizer, library: lib } = library();
    mkdirSync(join(dir, 'hall'));
    writeFileSync(join(dir, 'hall', 'thanks.wav'), WAV);
    writeFileSync(join(dir, 'hall', 'reason_R1.wav'), WAV);
    expect(await lib.fileFor({ kind: 'prompt', name: 'thanks' })).toBe(join(dir, 'hall', 'thanks.wav'));
    expect(await lib.fileFor({ kind: 'label', code: 'R1', text: '办理时间长' })).toBe(join(dir, 'hall', 'reason_R1.wav'));
    expect(synthesizer.texts).toEqual([]);
  });

  it("a hall's file that is not WAV (an MP3 renamed, a text) is left aside: the default plays, and the status names it", async () => {
    const { library: lib } = library();
    mkdirSync(join(dir, 'hall'));
    writeFileSync(join(dir, 'hall', 'invite.wav'), 'ID3\u0004 an mp3');
    const file = await lib.fileFor({ kind: 'prompt', name: 'invite' });
    expect(file?.startsWith(join(dir, 'cache'))).toBe(true);
    expect(lib.badRecordings()).toEqual([join(dir, 'hall', 'invite.wav')]);
    writeFileSync(join(dir, 'hall', 'invite.wav'), WAV);
    expect(await lib.fileFor({ kind: 'prompt', name: 'invite' })).toBe(join(dir, 'hall', 'invite.wav'));
    expect(lib.badRecordings()).toEqual([]);
  });

  it('a reason code that is no safe file name never names a file: its label is synthesized', async () => {
    const { library: lib } = library();
    mkdirSync(join(dir, 'hall'));
    writeFileSync(join(dir, 'reason_x.wav'), WAV);
    const file = await lib.fileFor({ kind: 'label', code: '../reason_x', text: '态度不好' });
    expect(file?.startsWith(join(dir, 'cache'))).toBe(true);
  });

  it('with no synthesizer installed: says so once, gives no file for a label, and tries no more', async () => {
    const synthesizer = Object.assign(new FakeSynthesizer(), { missing: true });
    const { library: lib } = library(synthesizer);
    expect(await lib.fileFor({ kind: 'label', code: 'R1', text: '办理时间长' })).toBeUndefined();
    expect(await lib.fileFor({ kind: 'label', code: 'R2', text: '态度不好' })).toBeUndefined();
    expect(synthesizer.texts).toEqual(['办理时间长']);
    expect(lib.synthesis).toEqual({ available: false, lastError: 'espeak-ng is not installed' });
    expect(lib.missingPrompts()).toEqual(PROMPT_NAMES);
  });

  it('prepare makes every default prompt and the labels, and reports what it found', async () => {
    const { library: lib } = library();
    mkdirSync(join(dir, 'hall'));
    writeFileSync(join(dir, 'hall', 'greeting.wav'), WAV);
    const first = await lib.prepare([{ code: 'R1', text: '办理时间长' }]);
    expect(first.recorded).toEqual(['greeting']);
    expect(first.made.sort()).toEqual([...PROMPT_NAMES.filter((n) => n !== 'greeting'), 'reason_R1'].sort());
    expect(first.failed).toEqual([]);
    const again = await lib.prepare([{ code: 'R1', text: '办理时间长' }]);
    expect(again.made).toEqual([]);
    expect(again.cached).toHaveLength(PROMPT_NAMES.length);
    expect(lib.missingPrompts()).toEqual([]);
  });

  it('the cache lives beside the database unless voice.cacheDir says where', () => {
    expect(voiceCacheDir({}, '/var/lib/hcp/hcp.db')).toBe('/var/lib/hcp/voice-prompts');
    expect(voiceCacheDir({ cacheDir: '/srv/voice' }, '/var/lib/hcp/hcp.db')).toBe('/srv/voice');
  });
});

describe('the voice feature and the catalogue', () => {
  it("synthesizes the default prompts at start and a newly adopted catalogue's labels", async () => {
    const synthesizer = new FakeSynthesizer();
    const player: Player = { play: () => Promise.resolve('played') };
    const voice = voiceOutput(voiceConfigSchema.parse({ cacheDir: join(dir, 'cache') }), join(dir, 'hcp.db'), () => true, { player, synthesizer });
    const reasons = Object.assign(new EventEmitter<{ adopted: [ReasonCatalog] }>(), { current: (): ReasonCatalog | null => null });
    const feature = new Voice({ events: new EventEmitter<BridgeEvents>(), timers: new ManualTimers(), logger: silentLogger, reasons, voice });
    feature.start();
    await new Promise((resolve) => setImmediate(resolve));
    expect(synthesizer.texts.sort()).toEqual(PROMPT_NAMES.map((n) => PROMPTS[n].text).sort());
    reasons.emit('adopted', { version: 'v2', reasons: [{ code: 'R9', label: '材料要求不清楚' }] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(synthesizer.texts).toContain('材料要求不清楚');
    expect(existsSync(voice.library!.cachedFile('材料要求不清楚'))).toBe(true);
    expect(voice.status()).toMatchObject({ configured: true, output: 'alsa', device: 'default', synthesis: { available: true }, missingPrompts: [] });
    feature.stop();
    expect(reasons.listenerCount('adopted')).toBe(0);
    // Stopped: nothing more is made (a stopped bridge leaves its folders alone).
    expect(await voice.library!.fileFor({ kind: 'label', code: 'R8', text: '等候时间长' })).toBeUndefined();
  });
});

describe("the reason catalogue store's word", () => {
  it('is given when a catalogue is adopted, not when a config leaves it out', () => {
    const store = new ReasonCatalogStore(new Settings(openDatabase(':memory:')), silentLogger);
    const adopted: string[] = [];
    store.on('adopted', (catalog) => adopted.push(catalog.version));
    store.adopt({ reasonCatalog: { version: 'v3', reasons: [{ code: 'R1', label: '办理时间长' }] } });
    store.adopt({});
    expect(adopted).toEqual(['v3']);
  });
});

describe('docs/bridge.example.yaml', () => {
  it('offers a valid voice section (commented out)', () => {
    const text = readFileSync(join(import.meta.dirname, '../../docs/bridge.example.yaml'), 'utf8').replace(/^# (voice:\n)((?:# {3}.*\n)+)/m, (_, head: string, body: string) => head + body.replace(/^# /gm, ''));
    writeFileSync(join(dir, 'voice.yaml'), text);
    expect(loadConfigFile(join(dir, 'voice.yaml')).voice).toEqual({
      output: 'alsa',
      device: 'default',
      promptsDir: '/etc/hcp/prompts',
      readReasons: true,
      maxPromptSeconds: 20,
      synthesis: { voice: 'cmn-latn-pinyin', rate: 150, amplitude: 100 },
    });
  });
});
