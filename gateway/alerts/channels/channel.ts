import { storableText } from '../../delivery/storable.js';
import type { Clock } from '../../ports.js';
import type { AlertMessage, MessageAlert } from '../message.js';

/*
 * One place alerts go (a WeCom group robot, a DingTalk group robot, a generic webhook). A
 * channel's address holds its key: it never appears in a result, an error or a log line.
 */

export type ChannelKind = 'wecom' | 'dingtalk' | 'webhook';

export type SendResult = { ok: true } | { ok: false; message: string };

export interface AlertChannel {
  readonly kind: ChannelKind;
  /** Unique among the channels (config `name`, else kind#n): what notify_owed and errors name. */
  readonly name: string;
  /** Never rejects: every failure is a result. */
  send(message: AlertMessage, alert: MessageAlert): Promise<SendResult>;
}

export type Fetch = typeof fetch;

/** Where an HTTP channel posts: its name, its address (holding its key), its signing secret if any, and the clock that dates signatures. */
export interface HttpTarget {
  name: string;
  url: string;
  secret?: string | undefined;
  clock: Clock;
}

export interface HttpChannelDeps {
  fetch?: Fetch | undefined;
  /** A send's whole time (connect, answer). Default 10 s. */
  timeoutMs?: number | undefined;
}

/** A channel that POSTs to an address: what the three kinds share. */
export abstract class HttpChannel implements AlertChannel {
  abstract readonly kind: ChannelKind;
  readonly name: string;

  constructor(
    protected readonly target: HttpTarget,
    protected readonly deps: HttpChannelDeps = {},
  ) {
    this.name = target.name;
  }

  abstract send(message: AlertMessage, alert: MessageAlert): Promise<SendResult>;
}

/** What came back: the status and the body read as JSON (null when it is not). */
export interface HttpAnswer {
  status: number;
  json: unknown;
}

const MAX_ANSWER = 64 * 1024;

/** POSTs a JSON body; resolves with the answer or a failure message that names no address. */
export async function postJson(url: string, body: string, headers: Record<string, string>, deps: HttpChannelDeps): Promise<{ ok: true; answer: HttpAnswer } | { ok: false; message: string }> {
  const doFetch = deps.fetch ?? fetch;
  try {
    const response = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
    });
    const text = (await response.text()).slice(0, MAX_ANSWER);
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { ok: true, answer: { status: response.status, json } };
  } catch (err) {
    return { ok: false, message: failureText(err) };
  }
}

/** A fetch failure in words, without the address (its query holds the key). */
export function failureText(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer in time';
  const cause = e?.cause?.code ?? e?.cause?.message ?? '';
  return withoutAddresses(`${e?.message ?? String(err)}${cause ? ` (${cause})` : ''}`).slice(0, 300);
}

/** Any URL in a text cut to its scheme and host: a robot's key is in its path or query. */
export function withoutAddresses(text: string): string {
  return text.replace(/\b(https?:\/\/[^/\s?#]+)[^\s]*/gi, '$1/…');
}

/** A robot's {errcode, errmsg} answer: errcode 0 is sent. */
export function robotResult(answer: HttpAnswer): SendResult {
  const j = (typeof answer.json === 'object' && answer.json !== null ? answer.json : {}) as { errcode?: unknown; errmsg?: unknown };
  if (answer.status >= 200 && answer.status < 300 && j.errcode === 0) return { ok: true };
  const said = typeof j.errcode === 'number' ? `errcode ${j.errcode}: ${typeof j.errmsg === 'string' ? j.errmsg : ''}` : 'an answer without errcode';
  return { ok: false, message: storableText(withoutAddresses(`HTTP ${answer.status}, ${said}`), 300) };
}
