import { z } from 'zod';

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
    .default('default'),
  /** A folder of the hall's own recordings: <prompt name>.wav there replaces the default prompt. */
  promptsDir: z.string().min(1).optional(),
});
export type VoiceConfig = z.infer<typeof voiceConfigSchema>;
