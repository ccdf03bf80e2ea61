import { hostTimers, type Timers } from '../../protocol/timers.js';
import { describeIssues, requiredFieldMessages } from '../../protocol/issues.js';
import { systemClock, type Clock } from '../ports.js';
import { isSuccess, makeEnvelope, provinceAnswerSchema, type ProvinceAnswer } from './envelope.js';
import type { EvaluationBody, ServiceBody } from './payloads.js';
import type { ProvinceProfile } from './profile.js';
import type { ProvinceSecrets } from './secrets.js';

/*
 * Contract: the port the delivery queue (gateway/delivery/) pushes through.
 *   ProvinceClient.push(phase, body) → PushAnswer, never rejects:
 *     delivered  the province took it (code "0", success "true")
 *     duplicate  it already had it (a refusal matching profile.answers.duplicatePatterns): counts as delivered
 *     rejected   refused for good (a code ≠ "0", or HTTP 4xx other than 408/429): keep it, show it, never retry blindly
 *     transient  try again later (network error, timeout, HTTP 5xx/408/429, a redirect, a malformed
 *                answer); retryAfterMs when the province said (Retry-After)
 * httpProvinceClient posts the signed envelope (envelope.ts) with an injected fetch, wall clock
 * (the envelope's time) and timers (the timeout). Pacing and backoff are the queue's.
 */

export type PushPhase = 'service' | 'evaluation';

/** A refusal with no JSON answer (an HTTP error page), as stored with the delivery. */
export interface HttpRefusal {
  code: string;
  success: false;
  message: string;
  status: number;
}

export type PushAnswer =
  | { kind: 'delivered'; answer: ProvinceAnswer }
  | { kind: 'duplicate'; message: string; answer: ProvinceAnswer }
  | { kind: 'rejected'; code: string; message: string; answer: ProvinceAnswer | HttpRefusal }
  | { kind: 'transient'; message: string; retryAfterMs?: number };

export interface ProvinceClient {
  push(phase: PushPhase, body: ServiceBody | EvaluationBody): Promise<PushAnswer>;
}

export interface HttpProvinceClientDeps {
  profile: ProvinceProfile;
  secrets: ProvinceSecrets;
  fetch?: typeof fetch;
  /** Wall time: the envelope's `time`, and a Retry-After given as a date. */
  clock?: Clock;
  /** The call's timeout. */
  timers?: Timers;
}

/** An answer is a few hundred bytes; far more is not one (and is not read into memory). */
const MAX_ANSWER_BYTES = 64 * 1024;
/** A Retry-After beyond a day is taken as a day. */
const MAX_RETRY_AFTER_MS = 86_400_000;

export function httpProvinceClient(deps: HttpProvinceClientDeps): ProvinceClient {
  const { profile, secrets } = deps;
  const doFetch = deps.fetch ?? globalThis.fetch;
  const clock = deps.clock ?? systemClock;
  const timers = deps.timers ?? hostTimers;
  const limitMs = profile.http.timeoutMs;

  return {
    async push(phase, body) {
      const url = profile.endpoints[phase];
      const envelope = makeEnvelope(profile, secrets, body, clock.now());
      const abort = new AbortController();
      let timedOut = false;
      const timer = timers.setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, limitMs);
      try {
        const response = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
          body: JSON.stringify(envelope),
          redirect: 'manual',
          signal: abort.signal,
        });
        const text = await readLimited(response, MAX_ANSWER_BYTES);
        return classify(profile, response.status, response.headers, text, clock.now());
      } catch (err) {
        if (timedOut) return { kind: 'transient', message: `no answer from the ${phase} endpoint within ${limitMs} ms` };
        return { kind: 'transient', message: `${phase} endpoint unreachable: ${errorText(err)}` };
      } finally {
        timers.clearTimeout(timer);
      }
    },
  };
}

/** Tells the four outcomes apart from one HTTP answer (exported for tests and the emulator's checks). */
export function classify(profile: ProvinceProfile, status: number, headers: Headers, text: string | undefined, now: Date): PushAnswer {
  if (status === 429 || status === 408 || status >= 500) {
    const retryAfterMs = retryAfter(headers.get('retry-after'), now);
    return { kind: 'transient', message: `HTTP ${status}${text ? `: ${snippet(text)}` : ''}`, ...(retryAfterMs !== undefined && { retryAfterMs }) };
  }
  if (status < 200 || (status >= 300 && status < 400)) return { kind: 'transient', message: `HTTP ${status}: not an answer (a redirect${headers.get('location') ? ` to ${snippet(headers.get('location') ?? '')}` : ''}?)` };
  if (text === undefined) return { kind: 'transient', message: `HTTP ${status}: an answer over ${MAX_ANSWER_BYTES} bytes is not the province's` };
  const answer = parseAnswer(text);
  if (status >= 400) {
    if (typeof answer !== 'string' && isDuplicate(profile, answer)) return { kind: 'duplicate', message: answer.message, answer };
    const refusal: HttpRefusal | ProvinceAnswer = typeof answer === 'string' ? { code: `HTTP ${status}`, success: false, message: snippet(text), status } : answer;
    return { kind: 'rejected', code: refusal.code, message: refusal.message || `HTTP ${status}`, answer: refusal };
  }
  if (typeof answer === 'string') return { kind: 'transient', message: `malformed answer: ${answer}` };
  if (isSuccess(answer)) return { kind: 'delivered', answer };
  if (isDuplicate(profile, answer)) return { kind: 'duplicate', message: answer.message, answer };
  return { kind: 'rejected', code: answer.code, message: answer.message || `code ${answer.code}`, answer };
}

/** The answer, or why it is not one. */
function parseAnswer(text: string): ProvinceAnswer | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `not JSON: ${snippet(text)}`;
  }
  const parsed = provinceAnswerSchema.safeParse(json, { error: requiredFieldMessages });
  return parsed.success ? parsed.data : `not {code, success, msg}: ${describeIssues(parsed.error.issues)}`;
}

function isDuplicate(profile: ProvinceProfile, answer: ProvinceAnswer): boolean {
  return answer.message !== '' && profile.answers.duplicatePatterns.some((pattern) => answer.message.includes(pattern));
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfter(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at) || !/[A-Za-z]/.test(text)) return undefined;
    ms = at - now.getTime();
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** The body's text up to `limit` bytes; undefined when longer (the rest is not read). */
async function readLimited(response: Response, limit: number): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8').decode(Buffer.concat(chunks));
}

function snippet(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

function errorText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const base = err instanceof Error ? err.message : String(err);
  return cause?.code ? `${base} (${cause.code})` : cause?.message ? `${base} (${cause.message})` : base;
}
