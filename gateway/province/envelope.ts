import { z } from 'zod';
import type { ProvinceProfile } from './profile.js';
import type { ProvinceSecrets } from './secrets.js';
import { sm2Sign } from './sm2.js';
import { formatProvinceTime } from './time-format.js';

/*
 * Contract: the wire (docs/province-profile.md, "The wire"). Every push is an HTTP POST of JSON,
 * `Content-Type: application/json; charset=utf-8`, to the phase's endpoint:
 *   { "appMark": "<profile.appMark>", "time": "<now, profile.time.envelope>", "sign": "<SM2>", "data": { …body… } }
 * `sign` is SM2 (SM3 with Z of profile.sm2.userId and our public key) over the UTF-8 text
 * time + appMark + appWord, written as profile.sm2.signatureFormat says. `data` is the service
 * or evaluation body (payloads.ts) as a JSON object. The province answers JSON
 *   { "code": "0", "success": "true", "msg": "…" }
 * (code and success may come as a number and a boolean); anything else is a refusal or a fault
 * (client.ts tells which).
 */

export interface Envelope<T = unknown> {
  appMark: string;
  time: string;
  sign: string;
  data: T;
}

/** What is signed: nothing of the body (TLS carries it), only who calls and when. */
export function signedText(time: string, appMark: string, appWord: string): string {
  return time + appMark + appWord;
}

/** The envelope for one push, signed now. */
export function makeEnvelope<T>(profile: ProvinceProfile, secrets: ProvinceSecrets, data: T, now: Date): Envelope<T> {
  const time = formatProvinceTime(now, profile.time.envelope);
  const sign = sm2Sign(signedText(time, profile.appMark, secrets.appWord), secrets.privateKey, {
    format: profile.sm2.signatureFormat,
    userId: profile.sm2.userId,
  });
  return { appMark: profile.appMark, time, sign, data };
}

/** Longest answer text kept (a province's HTML error page is not an answer). */
const MAX_MESSAGE = 500;

/**
 * The province's answer, leniently: code as a string or number, success as "true"/"false" or a
 * boolean, the message under msg or message. Unknown fields are kept (they are stored with the
 * delivery for the operator).
 */
export const provinceAnswerSchema = z
  .looseObject({
    code: z.union([z.string().max(64), z.number().finite()]).transform(String),
    success: z.union([z.boolean(), z.enum(['true', 'false'])]).transform((s) => s === true || s === 'true'),
    msg: z.string().optional(),
    message: z.string().optional(),
  })
  .transform(({ msg, message, ...rest }) => ({ ...rest, message: (msg ?? message ?? '').slice(0, MAX_MESSAGE) }));
export type ProvinceAnswer = z.output<typeof provinceAnswerSchema>;

/** Success as DOMAIN.md has it: code "0" and success "true". */
export function isSuccess(answer: ProvinceAnswer): boolean {
  return answer.code === '0' && answer.success;
}
