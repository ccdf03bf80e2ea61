import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * espeak-ng's Mandarin voice that reads Chinese characters. Debian's espeak-ng 1.51 has two: `cmn`
 * ("latin as English") turns each character into pinyin with tone digits and then reads those
 * letters as English ("nin two hao three"); `cmn-latn-pinyin` says the syllables with their tones.
 */
export const DEFAULT_SYNTHESIS_VOICE = 'cmn-latn-pinyin';

/** How the default prompts and the reason labels are synthesized (espeak-ng's options). */
export const synthesisConfigSchema = z.strictObject({
  /** An espeak-ng voice name (`espeak-ng --voices=cmn` lists them). */
  voice: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_+/-]{0,39}$/, 'expected an espeak-ng voice name such as cmn-latn-pinyin (espeak-ng --voices=cmn lists them)')
    .default(DEFAULT_SYNTHESIS_VOICE),
  /** Speed in words a minute (espeak-ng -s; its default is 175, a counter is better a little slower). */
  rate: z.number().int('expected words a minute, e.g. 150').min(80).max(450).default(150),
  /** Loudness of the synthesized prompts, 0-200 (espeak-ng -a); the hall's recordings play as recorded. */
  amplitude: z.number().int('expected 0-200, e.g. 100').min(0).max(200).default(100),
});
export type SynthesisConfig = z.infer<typeof synthesisConfigSchema>;

/**
 * The bridge's `voice` section: spoken prompts at the counter (docs/audio.md). Left out, the
 * terminal stays silent but for its buzzer.
 */
export const voiceConfigSchema = z.strictObject({
  /** alsa: this Pi's sound output (aplay); terminal: the terminal's own sound module (`say` frames). */
  output: z.enum(['alsa', 'terminal'], { error: 'expected alsa (the Pi plays the prompts) or terminal (its own sound module does)' }).default('alsa'),
  /** The ALSA device aplay plays to, e.g. default or plughw:1,0. */
  device: z
    .string()
    .regex(/^[A-Za-z0-9_:,.=-]{1,64}$/, 'expected an ALSA device name such as default or plughw:1,0')
    .refine((device) => !device.startsWith('-'), 'an ALSA device name does not start with "-"')
    .default('default'),
  /** A folder of the hall's own recordings: <prompt name>.wav there replaces the default prompt. */
  promptsDir: z.string().min(1).optional(),
  /** Where the synthesized prompts are kept. Default: voice-prompts/ beside the database. */
  cacheDir: z.string().min(1).optional(),
  synthesis: synthesisConfigSchema.prefault({}),
  /**
   * Read the reasons aloud after a bad grade (请选择不满意的原因, then each with its button). Whoever
   * stands at the counter hears it too, and so learns that the grade was bad: a hall that weighs
   * that above guidance by ear sets false, and the reasons are then only lit on the buttons and
   * shown on the customer screen (docs/audio.md).
   */
  readReasons: z.boolean().default(true),
  /** The longest a prompt may play before it is stopped and counted as failed (a hung sound device). */
  maxPromptSeconds: z.number().int().min(1).max(120).default(20),
});
export type VoiceConfig = z.infer<typeof voiceConfigSchema>;

/** The folder of synthesized prompts: voice.cacheDir, or voice-prompts/ beside the database. Absolute. */
export function voiceCacheDir(voice: Pick<VoiceConfig, 'cacheDir'>, databasePath: string): string {
  return resolve(voice.cacheDir ?? join(dirname(databasePath), 'voice-prompts'));
}
