import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { isLoopbackHost } from '../../bridge/config.js';
import { silentLogger } from '../../bridge/log.js';
import { explain } from '../../protocol/issues.js';
import { terminalIdSchema } from '../../protocol/records.js';
import { passwordSchema } from '../accounts/password.js';
import { addUser, listUsers, newUserSchema, removeUser, setDisabled, setPassword, UserError, usernameSchema } from '../accounts/users.js';
import { DatabaseUnavailable, type Database } from '../db/database.js';
import { deliveryKeySchema } from '../delivery/claims.js';
import { deliveryStateSchema, deliveryStatus, listDeliveries, retryRejected } from '../delivery/status.js';
import { systemClock, type Clock, type Logger } from '../ports.js';
import { RegistryError, type TerminalRegistry } from '../registry/terminal-registry.js';
import { listInstances, type InstanceRow } from '../status/instances.js';
import { jsonSyntaxProblem } from './json-problem.js';
import { listenOrRefuse, type ListeningServer } from './listen.js';
import { listRefusalRows, refusalQuerySchema } from './refusal-rows.js';

/*
 * The gateway's admin API, v1, for `hcp gateway …` and the operator's own tools: status of
 * every instance, the terminals, approve and revoke, the refusals, the dashboard's accounts.
 * Reads are open on the address it listens on (loopback by default); writes need the operator
 * token when one is configured. A password arrives only in a JSON body, and no answer or log
 * line repeats it.
 */

export interface AdminHttpOptions {
  host: string;
  port: number;
  /** When set, every POST must carry `Authorization: Bearer <token>` (http.tokenFile). */
  token: string | undefined;
  registry: Pick<TerminalRegistry, 'list' | 'get' | 'approve' | 'revoke'>;
  db: Database;
  /** This instance's status (the gateway's status()). */
  status: () => Promise<unknown>;
  /** Failures in a row before a delivery counts as alerting (the province profile's http.maxAttemptsBeforeAlert). */
  deliveryAlertAfterAttempts?: number;
  logger?: Logger;
  clock?: Clock;
}

/** The admin API's server: e.g. http://127.0.0.1:8470. */
export type AdminHttp = ListeningServer;

const MAX_BODY_BYTES = 16 * 1024;
const OPERATOR_HEADER = 'x-hcp-operator';
const DEFAULT_ACTOR = 'admin-api';

/** Every refusal: `{ error, problems }`, with the status it is answered with. */
export class AdminHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

interface Request {
  options: AdminHttpOptions;
  req: IncomingMessage;
  params: string[];
  query: URLSearchParams;
  actor: string;
}

type Handler = (request: Request) => Promise<[number, unknown]>;

const terminalListQuerySchema = z.strictObject({ status: z.enum(['pending', 'approved', 'revoked']).optional() });
const approveBodySchema = z.strictObject({
  /** The key the operator saw: the whole key or 8+ hex digits of its fingerprint. */
  key: z.string().min(1).max(200).optional(),
});
const revokeBodySchema = z.strictObject({ reason: z.string().trim().min(1, 'say why the terminal is revoked').max(500) });
const deliveryListQuerySchema = z.strictObject({
  state: deliveryStateSchema.optional(),
  case: z.string().min(1).max(64).optional(),
  limit: refusalQuerySchema.shape.limit,
});
const retryBodySchema = z.strictObject({ deliveries: z.array(deliveryKeySchema).min(1, 'name at least one delivery').max(1000) });
const passwordBodySchema = z.strictObject({ password: passwordSchema });
const emptyBodySchema = z.strictObject({});
const userChange = (options: AdminHttpOptions, actor: string): { clock: Clock; actor: string } => ({ clock: options.clock ?? systemClock, actor });

const ROUTES: Array<[method: 'GET' | 'POST', pattern: RegExp, handler: Handler]> = [
  [
    'GET',
    /^\/api\/v1\/status$/,
    async ({ options }) => [200, { instance: await options.status(), ...(await instancesOrWhyNot(options)) }],
  ],
  [
    'GET',
    /^\/api\/v1\/terminals$/,
    async ({ options, query }) => {
      const filter = parse(terminalListQuerySchema, queryObject(query), 'query');
      return [200, { terminals: await options.registry.list(filter) }];
    },
  ],
  [
    'GET',
    /^\/api\/v1\/terminals\/([^/]+)$/,
    async ({ options, params }) => {
      const id = pathParam(params[0], terminalIdSchema, 'a terminal');
      const terminal = await options.registry.get(id);
      if (!terminal) throw new AdminHttpError(404, `no terminal ${id} has registered with this gateway`);
      return [200, terminal];
    },
  ],
  [
    'POST',
    /^\/api\/v1\/terminals\/([^/]+)\/approve$/,
    async ({ options, params, req, actor }) => {
      const id = pathParam(params[0], terminalIdSchema, 'a terminal');
      const { key } = parse(approveBodySchema, (await readJson(req)) ?? {}, 'body');
      return [200, await options.registry.approve(id, { actor, key })];
    },
  ],
  [
    'POST',
    /^\/api\/v1\/terminals\/([^/]+)\/revoke$/,
    async ({ options, params, req, actor }) => {
      const id = pathParam(params[0], terminalIdSchema, 'a terminal');
      const { reason } = parse(revokeBodySchema, await readJson(req), 'body');
      return [200, { terminal: await options.registry.revoke(id, { actor, reason }) }];
    },
  ],
  [
    'GET',
    /^\/api\/v1\/deliveries$/,
    async ({ options, query }) => {
      const { state, case: caseNo, limit } = parse(deliveryListQuerySchema, queryObject(query), 'query');
      const now = (options.clock ?? systemClock).now();
      return [
        200,
        {
          status: await deliveryStatus(options.db, { now, alertAfterAttempts: options.deliveryAlertAfterAttempts ?? 5 }),
          deliveries: await listDeliveries(options.db, { ...(state && { state }), ...(caseNo && { caseNo }), limit }),
        },
      ];
    },
  ],
  [
    'POST',
    /^\/api\/v1\/deliveries\/retry$/,
    async ({ options, req, actor }) => {
      const { deliveries } = parse(retryBodySchema, await readJson(req), 'body');
      return [200, await retryRejected(options.db, deliveries, actor, options.clock ?? systemClock)];
    },
  ],
  [
    'GET',
    /^\/api\/v1\/refusals$/,
    async ({ options, query }) => [200, { refusals: await listRefusalRows(options.db, parse(refusalQuerySchema, queryObject(query), 'query')) }],
  ],
  ['GET', /^\/api\/v1\/users$/, async ({ options }) => [200, { users: await listUsers(options.db) }]],
  [
    'POST',
    /^\/api\/v1\/users$/,
    async ({ options, req, actor }) => [201, { user: await addUser(options.db, parse(newUserSchema, await readJson(req), 'body'), userChange(options, actor)) }],
  ],
  [
    'POST',
    /^\/api\/v1\/users\/([^/]+)\/password$/,
    async ({ options, params, req, actor }) => {
      const name = pathParam(params[0], usernameSchema, 'an account');
      const { password } = parse(passwordBodySchema, await readJson(req), 'body');
      return [200, { user: await setPassword(options.db, name, password, userChange(options, actor)) }];
    },
  ],
  [
    'POST',
    /^\/api\/v1\/users\/([^/]+)\/(disable|enable)$/,
    async ({ options, params, req, actor }) => {
      const name = pathParam(params[0], usernameSchema, 'an account');
      parse(emptyBodySchema, (await readJson(req)) ?? {}, 'body');
      return [200, await setDisabled(options.db, name, params[1] === 'disable', userChange(options, actor))];
    },
  ],
  [
    'POST',
    /^\/api\/v1\/users\/([^/]+)\/remove$/,
    async ({ options, params, req, actor }) => {
      const name = pathParam(params[0], usernameSchema, 'an account');
      parse(emptyBodySchema, (await readJson(req)) ?? {}, 'body');
      await removeUser(options.db, name, userChange(options, actor));
      return [200, { removed: name }];
    },
  ],
];

/** The status answers with the database away too (that is when it is wanted): the instances table is then said missing, with why. */
async function instancesOrWhyNot(options: AdminHttpOptions): Promise<{ instances: InstanceRow[] | null; instancesError?: string }> {
  try {
    return { instances: await listInstances(options.db, { now: (options.clock ?? systemClock).now() }) };
  } catch (err) {
    return { instances: null, instancesError: err instanceof DatabaseUnavailable ? err.message : 'the instances table cannot be read; see the gateway log' };
  }
}

/** Starts the admin API; an address it cannot listen on is refused as a bad setting (ConfigError). */
export async function startAdminHttp(options: AdminHttpOptions): Promise<AdminHttp> {
  const logger = options.logger ?? silentLogger;
  if (options.token === undefined && !isLoopbackHost(options.host)) {
    logger.warn({ host: options.host }, 'admin API: listening beyond loopback without an operator token: anyone who reaches it may approve and revoke terminals (set http.tokenFile)');
  }
  return listenOrRefuse(createAdminServer(options, logger), options.host, options.port, 'http', ' (another gateway instance on this machine?)');
}

export function createAdminServer(options: AdminHttpOptions, logger: Logger = options.logger ?? silentLogger): Server {
  const server = createServer((req, res) => {
    route(options, logger, req, res).catch((err: unknown) => {
      res.destroy();
      logger.error({ err }, 'admin API: answering a request failed; dropped');
    });
  });
  server.on('clientError', (_err, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const text = JSON.stringify({ error: 'not an HTTP/1.1 request this API reads', problems: [] });
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  });
  return server;
}

async function route(options: AdminHttpOptions, logger: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('#', 1)[0]!.split(/\?(.*)/s, 2);
  try {
    checkHost(options, req);
    const matches = ROUTES.filter(([, pattern]) => pattern.test(rawPath));
    if (matches.length === 0) throw new AdminHttpError(404, `no such endpoint: ${shown(rawPath)}`);
    const match = matches.find(([method]) => method === req.method);
    if (!match) throw new AdminHttpError(405, `${String(req.method).slice(0, 16)} is not allowed on ${shown(rawPath)} (${matches.map(([m]) => m).join(', ')})`);
    const [method, pattern, handler] = match;
    if (method === 'POST') checkToken(options, req, rawPath.startsWith('/api/v1/users') ? 'changes to accounts' : 'changes (approve, revoke, retry)');
    const params = (pattern.exec(rawPath) ?? []).slice(1);
    const [status, body] = await handler({ options, req, params, query: new URLSearchParams(rawQuery), actor: actorOf(req) });
    send(res, status, body);
  } catch (err) {
    const error = asHttpError(err);
    if (error.status >= 500) logger.error({ err, path: shown(rawPath) }, 'admin API: request failed');
    send(res, error.status, { error: error.message, problems: error.problems });
  }
}

function asHttpError(err: unknown): AdminHttpError {
  if (err instanceof AdminHttpError) return err;
  if (err instanceof RegistryError) return new AdminHttpError(err.code === 'not_found' ? 404 : 409, err.message);
  if (err instanceof UserError) return new AdminHttpError(({ invalid: 400, not_found: 404, exists: 409 } as const)[err.code], err.message, err.problems);
  // Its message names host:port/database and what to check, never the password.
  if (err instanceof DatabaseUnavailable) return new AdminHttpError(503, `the database is not answering: ${err.message}`);
  return new AdminHttpError(500, 'internal error; see the gateway log');
}

/** DNS rebinding would let a web page reach a loopback API under its own name: only this API's own names are answered. */
function checkHost(options: AdminHttpOptions, req: IncomingMessage): void {
  const value = req.headers.host ?? '';
  const name = /^(\[[0-9a-f:.]+\]|[^\s:[\]/@]+)(?::\d{1,5})?$/i.exec(value)?.[1]?.toLowerCase().replace(/\.$/, '');
  const wildcard = options.host === '0.0.0.0' || options.host === '::' || options.host === '[::]';
  if (name !== undefined && (wildcard || isLoopbackHost(name) || name === options.host.toLowerCase())) return;
  throw new AdminHttpError(421, `this API does not answer to Host "${value.slice(0, 100)}": call it as ${options.host} or 127.0.0.1`);
}

function checkToken(options: AdminHttpOptions, req: IncomingMessage, what: string): void {
  if (options.token === undefined) return;
  if (!sameSecret(req.headers.authorization ?? '', `Bearer ${options.token}`)) {
    throw new AdminHttpError(401, `${what} need the operator token: send Authorization: Bearer <the token in http.tokenFile>`);
  }
}

/** Compared in constant time: digests have equal length, so timingSafeEqual applies. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Who is acting, for operator_actions: `admin-api`, or `admin-api:<name>` from X-HCP-Operator (letters, digits, `._@-` only, 64 at most). */
export function actorOf(req: Pick<IncomingMessage, 'headers'>): string {
  const header = req.headers[OPERATOR_HEADER];
  const name = (Array.isArray(header) ? header[0] : header)?.replace(/[^A-Za-z0-9_.@-]/g, '').slice(0, 64);
  return name ? `${DEFAULT_ACTOR}:${name}` : DEFAULT_ACTOR;
}

/** A name in the path (a terminal id, an account), percent-decoded and checked by its schema. */
function pathParam(raw: string | undefined, schema: z.ZodType<string>, what: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw ?? '');
  } catch {
    throw new AdminHttpError(400, `the path's name of ${what} is not valid percent-encoding`, ['path: not UTF-8 %XX']);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new AdminHttpError(400, `the path does not name ${what}`, [`path: ${result.error.issues[0]?.message ?? 'invalid name'}`]);
  return result.data;
}

/** The query as an object; a parameter given twice is refused rather than one of its values silently chosen. */
function queryObject(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of query) {
    if (Object.hasOwn(out, key)) throw new AdminHttpError(400, 'the query is invalid', [`${key.slice(0, 40)}: given twice`]);
    out[key] = value;
  }
  return out;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, where: 'body' | 'query'): z.output<T> {
  const result = explain(schema, value);
  if (result.ok) return result.data;
  throw new AdminHttpError(400, `the ${where} is invalid`, result.problems);
}

/** The JSON body, or undefined when there is none. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  // Only JSON, even for an empty body: an HTML form on another page cannot send it, so no page
  // open in the operator's browser can approve or revoke through it.
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new AdminHttpError(415, 'send a JSON body (it may be empty) with content-type: application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new AdminHttpError(413, `the body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new AdminHttpError(400, 'the body is not valid JSON', [jsonSyntaxProblem(err)]);
  }
}

function shown(path: string): string {
  return path.length > 200 ? `${path.slice(0, 200)}… (${path.length} characters)` : path;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), 'x-content-type-options': 'nosniff' });
  res.end(text);
}
