import { z } from 'zod';
import { registrationSchema } from '../../protocol/registration.js';

/*
 * What a window's QR sign says: parsed here, at the boundary, so the layout and the renderers get
 * typed values. Keys are the CLI's option names (camel-cased), so an issue's path names the option.
 */

/** Longest URL printed: a rating page's address with a window parameter is far shorter. */
export const MAX_URL_LENGTH = 512;
export const MAX_HALL_NAME_LENGTH = 60;
export const MAX_AREA_LENGTH = 40;

const CONTROL = /\p{Cc}/u;

/** One line of text for the sign: no control characters (a newline included), not blank, trimmed. */
const signText = (what: string, max: number) =>
  z
    .string()
    .refine((s) => !CONTROL.test(s), `${what} must be one line of printable text (no control characters or line breaks)`)
    .transform((s) => s.trim())
    .pipe(z.string().min(1, `${what} must not be blank`).max(max, `${what} is longer than ${max} characters`));

export const qrSignSpecSchema = z.strictObject({
  /** The window as the terminals have it (protocol/registration.ts: 1-16 characters), e.g. A03. */
  window: z
    .string()
    .refine((s) => registrationSchema.shape.windowNo.safeParse(s).success, { error: 'expected the window number as its terminal has it: 1-16 characters, e.g. A03', abort: true })
    .refine((s) => !CONTROL.test(s), { error: 'the window number must be printable text (no control characters)', abort: true })
    .refine((s) => s.trim() === s, 'the window number must not start or end with spaces'),
  /** The hall's name as citizens know it, e.g. 西湖区政务服务中心. */
  hallName: signText('the hall name', MAX_HALL_NAME_LENGTH),
  /** Optional line above the hall name: the area, e.g. 杭州市西湖区. */
  area: signText('the area', MAX_AREA_LENGTH).optional(),
  /** Where the QR code leads: the rating page for this window (the gateway's rate-later page, or the province's). */
  url: z
    .url({ protocol: /^https?$/, error: 'expected the rating page as an http:// or https:// URL, e.g. https://hall.example.gov.cn/rate' })
    .max(MAX_URL_LENGTH, `the URL is longer than ${MAX_URL_LENGTH} characters: too dense a QR code for a sign`),
});

export type QrSignSpec = z.infer<typeof qrSignSpecSchema>;
