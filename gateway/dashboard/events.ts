import type { ServerResponse } from 'node:http';
import { repeat, type Timers } from '../../protocol/timers.js';
import { SECURITY_HEADERS } from './answers.js';

/*
 * GET /api/events: a Server-Sent Events stream per open page. It carries only *that* something
 * changed (records, alerts, terminals), never what: the page then asks the API again, and the API
 * answers within the user's scope. So one stream serves every user alike and leaks nothing.
 * Each stream is checked now and then against its session (ended at logout or expiry).
 */

/** What ChangeWatch (gateway/live/changes.ts) reports: which kinds of rows changed. */
export interface ChangedKinds {
  records: boolean;
  alerts: boolean;
  terminals: boolean;
}

interface Stream {
  res: ServerResponse;
  /** Whether the stream's session still holds (false: the stream ends). */
  stillValid: () => Promise<boolean>;
}

export interface EventStreamsOptions {
  timers: Timers;
  /** Streams open at once, over all users (a page each): more are refused until one closes. */
  maxStreams?: number;
  /** A comment line this often keeps proxies from closing a quiet stream, and re-checks each session. */
  keepAliveMs?: number;
}

export class EventStreams {
  readonly #streams = new Set<Stream>();
  readonly #maxStreams: number;
  readonly #keepAliveMs: number;
  #stopBeat: (() => void) | undefined;

  constructor(private readonly options: EventStreamsOptions) {
    this.#maxStreams = options.maxStreams ?? 200;
    this.#keepAliveMs = options.keepAliveMs ?? 25_000;
  }

  get size(): number {
    return this.#streams.size;
  }

  get full(): boolean {
    return this.#streams.size >= this.#maxStreams;
  }

  /** Opens a stream on `res` (full checked first); it ends when the client goes or its session does. */
  open(res: ServerResponse, stillValid: () => Promise<boolean>): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // A page that lost its stream reconnects after this long (EventSource does it by itself).
    res.write('retry: 3000\n\n');
    const stream: Stream = { res, stillValid };
    this.#streams.add(stream);
    res.on('close', () => this.#streams.delete(stream));
    this.#stopBeat ??= repeat(this.options.timers, this.#keepAliveMs, () => void this.#beat());
  }

  /** Tells every open page what changed. */
  changed(what: ChangedKinds): void {
    const line = `event: changed\ndata: ${JSON.stringify({ records: what.records, alerts: what.alerts, terminals: what.terminals })}\n\n`;
    for (const { res } of this.#streams) res.write(line);
  }

  /** Ends every stream (the server stops). */
  close(): void {
    this.#stopBeat?.();
    this.#stopBeat = undefined;
    for (const { res } of this.#streams) res.end();
    this.#streams.clear();
  }

  async #beat(): Promise<void> {
    if (this.#streams.size === 0) {
      this.#stopBeat?.();
      this.#stopBeat = undefined;
      return;
    }
    await Promise.all(
      [...this.#streams].map(async (stream) => {
        const valid = await stream.stillValid().catch(() => true); // the database away: keep the page, it will say so on its next call
        if (valid) stream.res.write(': keep-alive\n\n');
        else {
          stream.res.write('event: signed-out\ndata: {}\n\n');
          stream.res.end();
          this.#streams.delete(stream);
        }
      }),
    );
  }
}
