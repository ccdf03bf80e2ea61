import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { SCREEN_META, screenPairSchema, screenPressSchema, screenReasonSchema, type ScreenSession } from '../../protocol/screen-api.js';
import { repeat, type Timers } from '../../protocol/timers.js';
import { isLoopbackHost } from '../config.js';
import { DeskError, type InvitationDesk } from '../desk/invitation-desk.js';
import { checkCaller, checkHost, HttpError, listenAt, parseBody, pathOf, readJson, refuseUnreadable, SECURITY_HEADERS, sendJson, sendRefusal, shown } from '../http/request-guard.js';
import { CSS, HTML, JS, staticFiles } from '../http/static-files.js';
import type { Logger } from '../log.js';
import { SCREEN_COOKIE, screenToken, type ScreenPairing } from './screen-pairing.js';
import type { ScreenView } from './screen-state.js';

/** The page's files: plain static files, no build step, nothing from the internet. */
const servePage = staticFiles(new URL('./page/', import.meta.url), {
  '/': { file: 'index.html', type: HTML },
  '/screen.js': { file: 'screen.js', type: JS },
  '/screen.css': { file: 'screen.css', type: CSS },
});

/** Bodies are a grade, a reason or a code: far below this. */
const MAX_BODY_BYTES = 1024;
/** Pages following the state at once (a kiosk and a tablet or two): a new one beyond ends the oldest. */
export const MAX_STREAMS = 8;
/** A comment down every stream this often: proxies and tablets keep it open, and a revoked tablet's stream ends. */
export const STREAM_HEARTBEAT_MS = 15_000;
/** A paired tablet's cookie lasts a year: pairing is for a device, revoked by `hcp screen revoke`. */
const COOKIE_MAX_AGE_S = 365 * 24 * 3600;

export interface ScreenServerOptions {
  /** The state the page shows, and word of each change. */
  state: { readonly view: ScreenView; on(event: 'change', fn: (view: ScreenView) => void): unknown; off(event: 'change', fn: (view: ScreenView) => void): unknown };
  desk: Pick<InvitationDesk, 'screenPress' | 'screenReason'>;
  pairing: Pick<ScreenPairing, 'redeem' | 'isPaired'>;
  /** screen.allowedHosts: names, besides loopback ones and addresses, the page is opened under. */
  allowedHosts: readonly string[];
  timers: Timers;
  logger: Logger;
}

type Caller = ScreenSession['via'];
type Handler = (req: IncomingMessage, res: ServerResponse, caller: Caller) => Promise<void> | void;

/**
 * The customer screen's own HTTP server, apart from the staff API (no staff token rates here):
 * the page, its state as server-sent events, and the citizen's touches. Who may rate: the Pi's own
 * kiosk (a connection from loopback) and tablets paired with a one-time code (a cookie).
 */
export class ScreenServer {
  readonly server: Server;
  private readonly streams = new Set<{ res: ServerResponse; caller: Caller; token: string | undefined }>();
  private stopHeartbeat: (() => void) | undefined;
  private readonly routes: Record<string, Handler | undefined>;

  constructor(private readonly opts: ScreenServerOptions) {
    this.routes = {
      'GET /api/meta': (_req, res) => sendJson(res, 200, SCREEN_META),
      'GET /api/session': (_req, res, caller) => sendJson(res, 200, { allowed: caller !== null, via: caller } satisfies ScreenSession),
      'GET /api/events': (req, res, caller) => this.stream(req, res, this.allowed(caller)),
      'POST /api/press': async (req, res, caller) => {
        this.allowed(caller);
        const { invitationId, grade } = parseBody(screenPressSchema, await readJson(req, MAX_BODY_BYTES));
        // The offered reasons go back to this page only; the stream never says a grade.
        const { reasons } = this.opts.desk.screenPress(invitationId, grade);
        sendJson(res, 200, { reasons: reasons.map(({ button, label }) => ({ button, label })) });
      },
      'POST /api/reason': async (req, res, caller) => {
        this.allowed(caller);
        const { invitationId, button } = parseBody(screenReasonSchema, await readJson(req, MAX_BODY_BYTES));
        this.opts.desk.screenReason(invitationId, button);
        sendJson(res, 200, {});
      },
      'POST /api/pair': async (req, res) => {
        const { code } = parseBody(screenPairSchema, await readJson(req, MAX_BODY_BYTES));
        const redeemed = this.opts.pairing.redeem(code);
        if (!redeemed.ok) throw new HttpError('unauthorized', redeemed.message, 'code');
        this.opts.logger.info({ screen: redeemed.screen.id, from: req.socket.remoteAddress }, 'customer screen paired');
        sendJson(res, 200, { screen: redeemed.screen }, {
          'set-cookie': `${SCREEN_COOKIE}=${redeemed.token}; Max-Age=${COOKIE_MAX_AGE_S}; Path=/; HttpOnly; SameSite=Strict`,
        });
      },
    };
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        res.destroy();
        opts.logger.error({ err, url: shown(req.url ?? '') }, 'customer screen request failed while answering it; dropped');
      });
    });
    refuseUnreadable(this.server, () => undefined);
  }

  async listen(at: { host: string; port: number }): Promise<void> {
    await listenAt(this.server, at, 'screen');
    this.opts.state.on('change', this.push);
    this.stopHeartbeat = repeat(this.opts.timers, STREAM_HEARTBEAT_MS, () => this.heartbeat());
  }

  async stop(): Promise<void> {
    this.opts.state.off('change', this.push);
    this.stopHeartbeat?.();
    for (const stream of this.streams) stream.res.end();
    this.streams.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Pages following the state now (server-sent event streams). */
  get following(): number {
    return this.streams.size;
  }

  /** Where the page is, e.g. http://127.0.0.1:8081/. */
  get url(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `http://${address.includes(':') ? `[${address}]` : address}:${port}/`;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    try {
      const host = checkHost(req, (name) => isLoopbackHost(name) || isAddress(name) || this.opts.allowedHosts.includes(name), `open the screen at this Pi's address (e.g. http://192.168.1.23:${req.socket.localPort}/), or add the name to screen.allowedHosts`);
      const reads = req.method === 'GET' || req.method === 'HEAD';
      if (!reads) checkCaller(req, host);
      if (reads && servePage(path, res)) return;
      const handler = this.routes[`${req.method} ${path}`];
      if (!handler) {
        if (Object.keys(this.routes).some((route) => route.endsWith(` ${path}`))) throw new HttpError('method_not_allowed', `${req.method} is not allowed on ${shown(path)}`);
        throw new HttpError('not_found', `no such page or endpoint: ${shown(path)}`);
      }
      await handler(req, res, this.callerOf(req));
    } catch (err) {
      const error = err instanceof HttpError ? err : err instanceof DeskError ? new HttpError(err.code, err.message) : new HttpError('internal', 'internal error; see the bridge log');
      if (error.code === 'internal') this.opts.logger.error({ err, path: shown(path) }, 'customer screen request failed');
      if (res.headersSent) res.destroy();
      else sendRefusal(res, error);
    }
  }

  /** The Pi's own kiosk (loopback), a paired tablet (its cookie), or nobody who may rate. */
  private callerOf(req: IncomingMessage): Caller {
    if (isLoopbackAddress(req.socket.remoteAddress)) return 'kiosk';
    return this.opts.pairing.isPaired(screenToken(req.headers.cookie)) ? 'paired' : null;
  }

  private allowed(caller: Caller): Exclude<Caller, null> {
    if (caller === null) throw new HttpError('unauthorized', 'this screen is not paired: a technician runs hcp screen pair on the Pi and the code is entered here');
    return caller;
  }

  /** Server-sent events: the whole view now, then on every change. */
  private stream(req: IncomingMessage, res: ServerResponse, caller: Caller): void {
    // The oldest gives way: a page that reconnected leaves its old stream behind until the socket times out.
    for (const old of this.streams) {
      if (this.streams.size < MAX_STREAMS) break;
      old.res.end();
      this.streams.delete(old);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    const stream = { res, caller, token: screenToken(req.headers.cookie) };
    this.streams.add(stream);
    res.on('close', () => this.streams.delete(stream));
    res.write(`retry: 2000\n\n`);
    res.write(event(this.opts.state.view));
  }

  private readonly push = (view: ScreenView): void => {
    for (const stream of this.streams) if (this.stillAllowed(stream)) stream.res.write(event(view));
  };

  private heartbeat(): void {
    for (const stream of this.streams) if (this.stillAllowed(stream)) stream.res.write(': ♥\n\n');
  }

  /** A tablet unpaired meanwhile (hcp screen revoke) loses its stream at the next word. */
  private stillAllowed(stream: { res: ServerResponse; caller: Caller; token: string | undefined }): boolean {
    if (stream.caller === 'kiosk' || this.opts.pairing.isPaired(stream.token)) return true;
    stream.res.end();
    this.streams.delete(stream);
    return false;
  }
}

function event(view: ScreenView): string {
  return `event: view\ndata: ${JSON.stringify(view)}\n\n`;
}

/** An address in Host (no name to rebind): 192.168.1.23 or [fe80::1]. */
function isAddress(name: string): boolean {
  return isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0;
}

/** A connection from this machine: the Pi's own kiosk browser. */
function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}
