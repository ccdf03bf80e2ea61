import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { explain } from '../../protocol/issues.js';
import { jsonSyntaxProblem } from '../http/json-problem.js';

/*
 * What the dashboard's API reads from a request and how it answers: one shape of refusal
 * (`{ error: { code, message, problems } }`, the message in the managers' Chinese, the problems
 * naming the field), and the headers every answer carries.
 */

export type RefusalCode =
  | 'bad_request'
  | 'unauthorized'
  | 'bad_credentials'
  | 'locked'
  | 'disabled'
  | 'rate_limited'
  | 'cross_site'
  | 'not_found'
  | 'conflict'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'too_large'
  | 'too_many_rows'
  | 'too_many_streams'
  | 'unavailable'
  | 'internal';

const STATUS: Record<RefusalCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  bad_credentials: 401,
  locked: 423,
  disabled: 403,
  rate_limited: 429,
  cross_site: 403,
  not_found: 404,
  conflict: 409,
  method_not_allowed: 405,
  unsupported_media_type: 415,
  too_large: 413,
  too_many_rows: 422,
  too_many_streams: 503,
  unavailable: 503,
  internal: 500,
};

/** A refusal: answered with its status, code, Chinese message and the problems by field. */
export class DashboardRefusal extends Error {
  readonly status: number;
  constructor(
    readonly code: RefusalCode,
    message: string,
    readonly problems: string[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = STATUS[code];
  }
}

/**
 * On every answer: nothing loads from elsewhere (the charts library is served here too), no other
 * page frames the dashboard. Inline styles are allowed for ECharts' tooltips; scripts never inline.
 */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendRefusal(res: ServerResponse, refusal: DashboardRefusal): void {
  sendJson(res, refusal.status, { error: { code: refusal.code, message: refusal.message, problems: refusal.problems } }, refusal.headers);
}

/** A path or value shown back in a refusal: bounded, so a long one does not fill the answer. */
export function shown(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…(${text.length})` : text;
}

/** The query as an object of single values; a parameter given twice is refused, not one of its values chosen. */
export function queryObject(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of query) {
    if (Object.hasOwn(out, key)) throw new DashboardRefusal('bad_request', '查询参数有误', [`${shown(key)}: given twice`]);
    out[key] = value;
  }
  return out;
}

/** Parses with `schema`, or refuses naming each field and what it expected. */
export function parsed<T extends z.ZodType>(schema: T, value: unknown, where: 'query' | 'body' | 'path'): z.output<T> {
  const result = explain(schema, value);
  if (result.ok) return result.data;
  throw new DashboardRefusal('bad_request', where === 'body' ? '提交的内容有误' : where === 'query' ? '查询参数有误' : '地址有误', result.problems);
}

const MAX_BODY_BYTES = 8 * 1024;

/**
 * The JSON body (undefined when empty). Only `application/json`: an HTML form on another site
 * cannot send it without the browser asking first (CORS), which this server never allows: the
 * first half of the dashboard's CSRF rule (same-origin.ts is the other).
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw new DashboardRefusal('unsupported_media_type', '请以 JSON 提交（content-type: application/json）', ['content-type: expected application/json']);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new DashboardRefusal('too_large', `提交的内容超过 ${MAX_BODY_BYTES} 字节`, [], { connection: 'close' });
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new DashboardRefusal('bad_request', '提交的内容不是有效的 JSON', [jsonSyntaxProblem(err)]);
  }
}
