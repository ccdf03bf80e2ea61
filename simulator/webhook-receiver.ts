import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * Where a test or `hcp start` sends alerts instead of a real group chat: one local HTTP server
 * that answers like a WeCom group robot (POST /cgi-bin/webhook/send?key=…), a DingTalk custom
 * robot (POST /robot/send?access_token=…, with 加签 checked: timestamp within an hour, sign the
 * base64 HMAC-SHA256 of `${timestamp}\n${secret}`) and a generic webhook (POST /hooks/alerts,
 * `X-HCP-Signature` checked when it has a secret). The robots answer {errcode, errmsg} with
 * HTTP 200, as theirs do; docs/alerts.md lists the codes and where they come from.
 *
 * It keeps what arrived (`received`, `waitFor`) and takes behaviours the EXAMPLES.md way:
 * `failNext(n, …)` answers the next n calls to a channel with an error, `slow(ms)` answers late.
 */

export type ReceiverChannel = 'wecom' | 'dingtalk' | 'webhook';

export interface ReceivedMessage {
  channel: ReceiverChannel;
  at: Date;
  /** The parsed JSON body (null when it was not JSON). */
  body: unknown;
  /** WeCom's markdown.content, DingTalk's markdown.text, the webhook's markdown: what a person would read. */
  markdown: string | null;
  headers: Record<string, string | undefined>;
  /** Accepted (errcode 0 / 2xx), or why not. */
  accepted: boolean;
  answer: { status: number; body: unknown };
}

export interface WebhookReceiverOptions {
  port?: number;
  host?: string;
  /** The WeCom robot's key (in its address). Default: random. */
  wecomKey?: string;
  /** The DingTalk robot's access token. Default: random. */
  dingtalkToken?: string;
  /** The DingTalk robot's 加签 secret (SEC…); without it, calls are not checked for a signature. Default: random. */
  dingtalkSecret?: string | null;
  /** The generic webhook's secret; without it, its calls carry no signature to check. */
  webhookSecret?: string | null;
  /** How far DingTalk's timestamp may be from this clock. Default one hour. */
  timestampWindowMs?: number;
  clock?: { now(): Date };
}

export interface Failure {
  /** Default: the channel's own error (WeCom 45009 freq limit, DingTalk 130101 send too fast, webhook HTTP 503). */
  status?: number;
  errcode?: number;
  errmsg?: string;
  /** Close the connection without answering. */
  drop?: boolean;
}

const MAX_BODY = 64 * 1024;
const MAX_KEPT = 10_000;
const WECOM_MAX_BYTES = 4096;

/** The robots' errors as they answer them (HTTP 200, errcode ≠ 0). */
export const ROBOT_ERRORS = {
  wecomBadKey: { errcode: 93000, errmsg: 'invalid webhook url' },
  wecomBadType: { errcode: 40008, errmsg: 'invalid message type' },
  wecomTooLong: { errcode: 40058, errmsg: 'markdown.content exceed max length 4096' },
  wecomRate: { errcode: 45009, errmsg: 'api freq out of limit' },
  dingtalkBadToken: { errcode: 300001, errmsg: 'token is not exist' },
  dingtalkTimestamp: { errcode: 310000, errmsg: 'invalid timestamp' },
  dingtalkSign: { errcode: 310000, errmsg: 'sign not match' },
  dingtalkBadBody: { errcode: 40035, errmsg: '缺少参数 json' },
  dingtalkRate: { errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' },
} as const;

export class WebhookReceiver extends EventEmitter<{ message: [ReceivedMessage] }> {
  readonly #server: Server;
  readonly #host: string;
  #port = 0;
  readonly wecomKey: string;
  readonly dingtalkToken: string;
  readonly dingtalkSecret: string | null;
  readonly webhookSecret: string | null;
  readonly #windowMs: number;
  readonly #clock: { now(): Date };
  readonly #received: ReceivedMessage[] = [];
  readonly #failures = new Map<ReceiverChannel, { left: number; failure: Failure }>();
  #delayMs = 0;

  private constructor(options: WebhookReceiverOptions) {
    super();
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.wecomKey = options.wecomKey ?? randomBytes(16).toString('hex');
    this.dingtalkToken = options.dingtalkToken ?? randomBytes(16).toString('hex');
    this.dingtalkSecret = options.dingtalkSecret === undefined ? `SEC${randomBytes(24).toString('hex')}` : options.dingtalkSecret;
    this.webhookSecret = options.webhookSecret ?? null;
    this.#windowMs = options.timestampWindowMs ?? 3600_000;
    this.#clock = options.clock ?? { now: () => new Date() };
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) answer(res, 500, { errcode: -1, errmsg: 'system error' });
        else res.destroy();
      });
    });
    // A request Node's parser cannot read (a raw byte in the path, a broken header): answered in JSON too.
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const text = JSON.stringify({ errcode: 400, errmsg: 'bad request' });
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    });
  }

  static async start(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(options);
    await new Promise<void>((resolve, reject) => {
      receiver.#server.once('error', reject);
      receiver.#server.listen(receiver.#port, receiver.#host, () => resolve());
    });
    receiver.#port = (receiver.#server.address() as AddressInfo).port;
    return receiver;
  }

  get url(): string {
    return `http://${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${this.#port}`;
  }

  /** What to write in a wecom channel's urlFile. */
  get wecomUrl(): string {
    return `${this.url}/cgi-bin/webhook/send?key=${this.wecomKey}`;
  }

  /** What to write in a dingtalk channel's urlFile (its secretFile holds dingtalkSecret). */
  get dingtalkUrl(): string {
    return `${this.url}/robot/send?access_token=${this.dingtalkToken}`;
  }

  /** A webhook channel's url. */
  get webhookUrl(): string {
    return `${this.url}/hooks/alerts`;
  }

  /** Everything that arrived, in order (the latest 10 000). */
  get received(): readonly ReceivedMessage[] {
    return this.#received;
  }

  /** What was accepted, of one channel or all. */
  accepted(channel?: ReceiverChannel): ReceivedMessage[] {
    return this.#received.filter((m) => m.accepted && (channel === undefined || m.channel === channel));
  }

  /** Resolves with the first message (arrived or arriving) that `pred` holds for; rejects after the timeout. */
  waitFor(pred: (m: ReceivedMessage) => boolean, timeoutMs = 5000): Promise<ReceivedMessage> {
    const found = this.#received.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const onMessage = (m: ReceivedMessage): void => {
        if (!pred(m)) return;
        clearTimeout(timer);
        this.off('message', onMessage);
        resolve(m);
      };
      const timer = setTimeout(() => {
        this.off('message', onMessage);
        reject(new Error(`webhook receiver: nothing matching arrived in ${timeoutMs} ms (${this.#received.length} received)`));
      }, timeoutMs);
      this.on('message', onMessage);
    });
  }

  /** The next `n` calls to `channel` fail. */
  failNext(channel: ReceiverChannel, n: number, failure: Failure = {}): void {
    this.#failures.set(channel, { left: n, failure });
  }

  /** Every answer waits this long (0: at once). */
  slow(ms: number): void {
    this.#delayMs = ms;
  }

  clear(): void {
    this.#received.length = 0;
    this.#failures.clear();
    this.#delayMs = 0;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://receiver');
    const channel: ReceiverChannel | undefined =
      url.pathname === '/cgi-bin/webhook/send' ? 'wecom' : url.pathname === '/robot/send' ? 'dingtalk' : url.pathname === '/hooks/alerts' ? 'webhook' : undefined;
    const raw = await readBody(req);
    if (this.#delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#delayMs));
    if (channel === undefined || req.method !== 'POST') {
      answer(res, 404, { errcode: 404, errmsg: 'not found' });
      return;
    }
    const body = parseJson(raw);
    const failing = this.#failures.get(channel);
    let status: number;
    let reply: unknown;
    if (failing && failing.left > 0) {
      failing.left -= 1;
      if (failing.failure.drop) {
        this.#keep({ channel, body, raw, req, status: 0, reply: null });
        res.destroy();
        return;
      }
      [status, reply] = this.#failure(channel, failing.failure);
    } else {
      [status, reply] = this.#judge(channel, url, req, raw, body);
    }
    this.#keep({ channel, body, raw, req, status, reply });
    answer(res, status, reply);
  }

  #failure(channel: ReceiverChannel, failure: Failure): [number, unknown] {
    if (channel === 'webhook') return [failure.status ?? 503, { ok: false, error: failure.errmsg ?? 'unavailable' }];
    const fallback = channel === 'wecom' ? ROBOT_ERRORS.wecomRate : ROBOT_ERRORS.dingtalkRate;
    return [failure.status ?? 200, { errcode: failure.errcode ?? fallback.errcode, errmsg: failure.errmsg ?? fallback.errmsg }];
  }

  /** The answer the real endpoint would give. */
  #judge(channel: ReceiverChannel, url: URL, req: IncomingMessage, raw: Buffer | null, body: unknown): [number, unknown] {
    const ok = { errcode: 0, errmsg: 'ok' };
    const b = (typeof body === 'object' && body !== null ? body : {}) as { msgtype?: unknown; markdown?: { content?: unknown; title?: unknown; text?: unknown } };
    if (channel === 'wecom') {
      if (url.searchParams.get('key') !== this.wecomKey) return [200, ROBOT_ERRORS.wecomBadKey];
      if (b.msgtype !== 'markdown' || typeof b.markdown?.content !== 'string') return [200, ROBOT_ERRORS.wecomBadType];
      if (Buffer.byteLength(b.markdown.content) > WECOM_MAX_BYTES) return [200, ROBOT_ERRORS.wecomTooLong];
      return [200, ok];
    }
    if (channel === 'dingtalk') {
      if (url.searchParams.get('access_token') !== this.dingtalkToken) return [200, ROBOT_ERRORS.dingtalkBadToken];
      if (this.dingtalkSecret !== null) {
        const timestamp = url.searchParams.get('timestamp') ?? '';
        const t = /^\d{1,15}$/.test(timestamp) ? Number(timestamp) : NaN;
        if (!Number.isFinite(t) || Math.abs(this.#clock.now().getTime() - t) > this.#windowMs) return [200, ROBOT_ERRORS.dingtalkTimestamp];
        const expected = createHmac('sha256', this.dingtalkSecret).update(`${timestamp}\n${this.dingtalkSecret}`).digest('base64');
        if (!sameText(url.searchParams.get('sign') ?? '', expected)) return [200, ROBOT_ERRORS.dingtalkSign];
      }
      if (b.msgtype !== 'markdown' || typeof b.markdown?.title !== 'string' || typeof b.markdown.text !== 'string') return [200, ROBOT_ERRORS.dingtalkBadBody];
      return [200, ok];
    }
    if (this.webhookSecret !== null) {
      const expected = `sha256=${createHmac('sha256', this.webhookSecret)
        .update(raw ?? Buffer.alloc(0))
        .digest('hex')}`;
      const given = req.headers['x-hcp-signature'];
      if (typeof given !== 'string' || !sameText(given, expected)) return [401, { ok: false, error: 'bad signature' }];
    }
    if (body === null) return [400, { ok: false, error: 'not JSON' }];
    return [200, { ok: true }];
  }

  #keep(m: { channel: ReceiverChannel; body: unknown; raw: Buffer | null; req: IncomingMessage; status: number; reply: unknown }): void {
    const b = (typeof m.body === 'object' && m.body !== null ? m.body : {}) as { markdown?: unknown };
    const md = b.markdown as { content?: unknown; text?: unknown } | string | undefined;
    const markdown = typeof md === 'string' ? md : typeof md?.content === 'string' ? md.content : typeof md?.text === 'string' ? md.text : null;
    const r = (typeof m.reply === 'object' && m.reply !== null ? m.reply : {}) as { errcode?: unknown; ok?: unknown };
    const accepted = m.status >= 200 && m.status < 300 && (m.channel === 'webhook' ? r.ok === true : r.errcode === 0);
    const message: ReceivedMessage = {
      channel: m.channel,
      at: this.#clock.now(),
      body: m.body,
      markdown,
      headers: { 'content-type': m.req.headers['content-type'], 'x-hcp-signature': header(m.req.headers['x-hcp-signature']) },
      accepted,
      answer: { status: m.status, body: m.reply },
    };
    this.#received.push(message);
    if (this.#received.length > MAX_KEPT) this.#received.shift();
    this.emit('message', message);
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' });
  res.end(text);
}

function parseJson(raw: Buffer | null): unknown {
  try {
    return raw === null ? null : (JSON.parse(raw.toString('utf8')) as unknown);
  } catch {
    return null;
  }
}
