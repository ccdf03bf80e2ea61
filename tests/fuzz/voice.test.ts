import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../bridge/config.js';
import { aplayArgs } from '../../bridge/voice/aplay-player.js';
import { synthesisConfigSchema, voiceConfigSchema } from '../../bridge/voice/config.js';
import { EspeakSynthesizer, espeakArgs, MAX_SPOKEN_CHARS, spokenText } from '../../bridge/voice/espeak.js';
import type { ChildLike, Spawn } from '../../bridge/voice/run-process.js';

/**
 * What reaches espeak-ng and aplay, for any text a province's catalogue could hold and any voice
 * config: the words only ever on stdin (no argument can be injected), cleaned of control
 * characters and markup and bounded; a refused config is a ConfigError naming the voice field.
 */
const SEED = 20261130;

/** Any text, with the characters that trouble a command line or a synthesizer made likely. */
const hostile = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.string({ unit: fc.constantFrom('-', '-v', ' ', '\n', '\r', '\0', '[[', ']]', '<', '>', '/', '\\', '$(', '`', ';', '|', '办', '理', '\u202e', '\u2028', '\u0085', '\x1b'), maxLength: 120 }),
);

/** Stands in for espeak-ng: records its arguments and what it was told on stdin, and writes nothing. */
function recordingSpawn(): { spawn: Spawn; calls: { args: readonly string[]; stdin: string }[] } {
  const calls: { args: readonly string[]; stdin: string }[] = [];
  const spawn: Spawn = (_command, args) => {
    const child = new EventEmitter() as EventEmitter & ChildLike;
    const stdin = new PassThrough();
    const call = { args, stdin: '' };
    calls.push(call);
    stdin.on('data', (chunk: Buffer) => (call.stdin += chunk.toString('utf8')));
    stdin.on('finish', () => setImmediate(() => child.emit('close', 0, null)));
    Object.assign(child, { stdin, stderr: new PassThrough(), kill: () => true });
    return child;
  };
  return { spawn, calls };
}

describe('text for the synthesizer', () => {
  it('is free of control characters, line breaks and markup, trimmed, bounded, and stable when cleaned again', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        const spoken = spokenText(text);
        expect(spoken).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}[\]<>{}\\]/u);
        expect([...spoken].length).toBeLessThanOrEqual(MAX_SPOKEN_CHARS);
        expect(spoken).toBe(spoken.trim());
        expect(spokenText(spoken)).toBe(spoken);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('leaves a catalogue label of Chinese words and digits as it is', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'办理时间长态度不好材料要求不清楚窗口123，。'), minLength: 1, maxLength: 40 }), (label) => {
        expect(spokenText(label)).toBe(label);
      }),
      { seed: SEED },
    );
  });

  it('goes to espeak-ng on stdin only: its arguments are the same for every text', async () => {
    await fc.assert(
      fc.asyncProperty(hostile, async (text) => {
        const { spawn, calls } = recordingSpawn();
        const result = await new EspeakSynthesizer(synthesisConfigSchema.parse({}), spawn).synthesize(text, '/var/lib/hcp/voice-prompts/x.wav').catch((err: unknown) => err);
        const spoken = spokenText(text);
        if (!spoken) {
          expect(calls).toEqual([]);
          expect((result as Error).message).toMatch(/^nothing to say/);
          return;
        }
        // The stand-in writes no file: refused for want of sound, after one call with the words on stdin.
        expect((result as Error).message).toMatch(/wrote no sound/);
        expect(calls).toHaveLength(1);
        const [call] = calls;
        expect(call!.stdin).toBe(spoken);
        expect(call!.args.slice(0, 9)).toEqual(['-v', 'cmn-latn-pinyin', '-s', '150', '-a', '100', '-b', '1', '-w']);
        expect(call!.args[9]).toMatch(/^\/var\/lib\/hcp\/voice-prompts\/x\.wav\.[0-9a-f]{8}\.part$/);
        expect(call!.args.slice(10)).toEqual(['--stdin']);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });
});

describe('the voice config', () => {
  const base = { terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H', windowNo: 'A1' }, serial: { path: '/dev/ttyUSB0' }, mqtt: { url: 'mqtt://127.0.0.1' }, database: { path: '/var/lib/hcp/hcp.db' } };
  const anything = fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom('-Dx', 'default', 'plughw:1,0', 'cmn', '--stdin', 'a b'));

  it('is accepted with options that cannot pass for an option of aplay or espeak-ng, or refused by a ConfigError that names the voice field', () => {
    fc.assert(
      fc.property(fc.record({ output: anything, device: anything, promptsDir: anything, cacheDir: anything, synthesis: fc.record({ voice: anything, rate: anything, amplitude: anything }, { requiredKeys: [] }), maxPromptSeconds: anything }, { requiredKeys: [] }), (voice) => {
        let config;
        try {
          config = parseConfig({ ...base, voice });
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          for (const problem of (err as ConfigError).problems) expect(problem).toMatch(/^(voice\.|and \d+ more)/);
          return;
        }
        const parsed = voiceConfigSchema.parse(config.voice);
        expect(parsed.device).not.toMatch(/^-/);
        expect(aplayArgs(parsed.device, '/x.wav')).toEqual(['-q', '-D', parsed.device, '--', '/x.wav']);
        const args = espeakArgs(parsed.synthesis, '/x.wav');
        expect(args[1]).not.toMatch(/^-/);
        expect(args).toHaveLength(12);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
