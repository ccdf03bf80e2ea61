import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { ApiRefusal } from '../../protocol/http-api.js';
import { explain } from '../../protocol/issues.js';
import { REFUSALS, type Refusal } from '../../protocol/refusals.js';
import { ConfigError } from '../config.js';

/*
 * What the bridge's two HTTP servers (the staff API with its console, bridge/http/api.ts, and the
 * customer screen, bridge/screen/screen-server.ts) check of every request and how they answer:
 * one rule each for DNS rebinding (Host), CSRF (Origin and JSON), secrets, bodies and refusals.
 */

/** A refusal; its HTTP status is the one protocol/refusals.ts gives its code. */
export class HttpError extends Error {
  readonly status: number;
  constructor(
    readonly code: Refusal,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.status = REFUSALS[code].status;
  }
}

/**
 * On every answer: no other page may frame ours (clickjacking), and nothing a page loads may come
 * from elsewhere (but `data:` images: the console's empty icon, the staff card's photo).
 */
export const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};
/** JSON answers are the window's state now: a cached one would show a past state. */
export const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

/** The custom header a page sends on calls without a body: a form or a no-cors fetch cannot set it. */
export const CALLER_HEADER = 'x-hcp-request';

export type HostPort = { name: string; port: number };

/** A Host or an Origin's host and port, `[::1]` kept bracketed; undefined when it is not one. */
export function hostPort(value: string): HostPort | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^\s:[\]/@]+)(?::(\d{1,5}))?$/i.exec(value);
  if (!match) return undefined;
  return { name: match[1]!.toLowerCase().replace(/\.$/, ''), port: match[2] === undefined ? 80 : Number(match[2]) };
}

/**
 * DNS rebinding points a name the attacker owns at this bridge, so that his page's calls reach it
 * with his name in Host: only the names `allowed` takes, at the port the server listens on, are
 * answered. `fix` says how to allow another name.
 */
export function checkHost(req: IncomingMessage, allowed: (name: string) => boolean, fix: string): HostPort {
  const value = req.headers.host ?? '';
  const host = hostPort(value);
  if (!host || host.port !== req.socket.localPort || !allowed(host.name)) {
    throw new HttpError('host_not_allowed', `this bridge does not answer to Host "${value.slice(0, 100)}": ${fix}`);
  }
  return host;
}

/**
 * A call that changes something must come from the server's own page or a program, never from
 * another page in the same browser: its Origin, when sent, is the server's own, and it carries
 * JSON or the caller header, which an HTML form or a no-cors fetch cannot send.
 */
export function checkCaller(req: IncomingMessage, host: HostPort): void {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const from = /^http:\/\//i.test(origin) ? hostPort(origin.slice('http://'.length)) : undefined;
    if (!from || from.name !== host.name || from.port !== host.port) {
      throw new HttpError('origin_not_allowed', `a call from the page at ${origin.slice(0, 100)} is refused: only this server's own page (http://${req.headers.host}) may change anything`);
    }
  }
  if (!isJson(req) && req.headers[CALLER_HEADER] !== '1') {
    throw new HttpError('unsupported_media_type', `a ${req.method} call needs content-type: application/json, or X-HCP-Request: 1 when it has no body`);
  }
}

/** A secret compared in constant time: digests have equal length, so timingSafeEqual applies. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** A path as a refusal quotes it: long ones cut, so that a refusal stays a line. */
export function shown(path: string): string {
  return path.length > 200 ? `${path.slice(0, 200)}… (${path.length} characters)` : path;
}

/** The path exactly as sent: a URL parser would read `//x` as a host and throw on `//[`. */
export function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split(/[?#]/, 1)[0] ?? '/';
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Any failure as the refusal it answers with: an HttpError as is, anything else `internal`. */
export function sendRefusal(res: ServerResponse, error: HttpError): void {
  const refusal: ApiRefusal = { error: { code: error.code, message: error.message, ...(error.field && { field: error.field }) } };
  sendJson(res, error.status, refusal);
}

export function isJson(req: IncomingMessage): boolean {
  return /^application\/json\b/i.test(req.headers['content-type'] ?? '');
}

/** The body as JSON, at most `maxBytes`: refused when it is not JSON, too big, or unreadable. */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  if (!isJson(req)) {
    throw new HttpError('unsupported_media_type', 'send the body as JSON with content-type: application/json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError('body_too_large', `body exceeds ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError('invalid_json', `body is not valid JSON: ${(err as Error).message}`);
  }
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = explain(schema, body);
  if (result.ok) return result.data;
  throw new HttpError('invalid_request', result.problems.join('; '), result.fields[0]);
}

/** Why a server cannot listen where its config section says, by the system's error code: a setting to fix. */
const LISTEN_FAILURES: Record<string, (at: { host: string; port: number }, section: string) => string> = {
  EADDRINUSE: ({ host, port }, section) => `${section}.port: ${host}:${port} is in use by another program (another hcp run?): stop it, or choose another port`,
  EADDRNOTAVAIL: ({ host }, section) => `${section}.host: this machine has no address ${host}: give one of its own addresses, 0.0.0.0 (all) or 127.0.0.1`,
  EACCES: ({ port }, section) => `${section}.port: ${port} needs root (ports below 1024): choose 1024 or above`,
  ENOTFOUND: ({ host }, section) => `${section}.host: ${host} is not a name this machine can resolve: give an address`,
};

/** Starts a server listening; an address it cannot have is refused like any bad setting of `section` (http, screen), never a stack trace. */
export async function listenAt(server: Server, at: { host: string; port: number }, section: string): Promise<void> {
  server.listen(at.port, at.host);
  try {
    await once(server, 'listening');
  } catch (err) {
    const failure = LISTEN_FAILURES[(err as NodeJS.ErrnoException).code ?? ''];
    throw new ConfigError(failure ? failure(at, section) : `${section}: cannot listen on ${at.host}:${at.port}: ${(err as Error).message}`, []);
  }
}

/**
 * What Node's parser refuses before the server's handler sees it (an unknown method, headers past
 * 16 KB) is refused in the API's own shape, and counted, instead of Node's bare 400 or 431.
 */
export function refuseUnreadable(server: Server, count: (code: Refusal) => void): void {
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const why = err.code === 'HPE_HEADER_OVERFLOW' ? 'its path and headers exceed 16 KB' : `it is not HTTP/1.1 this API reads (${err.code ?? err.message})`;
    const error = new HttpError('invalid_request', `request refused: ${why}`);
    count(error.code);
    const text = JSON.stringify({ error: { code: error.code, message: error.message } } satisfies ApiRefusal);
    // An answer to HEAD has no body: its bytes would be read as the next response.
    const head = err.rawPacket?.toString('latin1', 0, 5) === 'HEAD ';
    const headers = Object.entries({ ...SECURITY_HEADERS, ...JSON_HEADERS }).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.end(`HTTP/1.1 ${error.status} Bad Request\r\n${headers}content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${head ? '' : text}`);
  });
}
