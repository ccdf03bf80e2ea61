import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TcpProxyOptions {
  /** Where connections are forwarded (the broker). */
  target: { host: string; port: number };
  /** Port on 127.0.0.1; 0 (the default) picks a free port. */
  listenPort?: number;
}

export interface TcpProxyStats {
  /** Connections forwarded to the target. */
  accepted: number;
  /** Connections reset at once because the proxy was cut (or the target refused them). */
  refused: number;
  /** Bytes delivered client → target and target → client. */
  bytesToTarget: number;
  bytesToClient: number;
  /** Bytes swallowed while blackholed. */
  dropped: number;
}

/** Bytes held for latency before the sending side is paused (backpressure). */
const HIGH_WATER = 1024 * 1024;

/** One direction of a connection pair: `from` → `to`, with latency, blackhole and backpressure. */
class Lane {
  readonly #queue: { chunk: Buffer; due: number }[] = [];
  #queuedBytes = 0;
  #lastDue = 0;
  #timer: NodeJS.Timeout | undefined;
  #awaitingDrain = false;
  #ending = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly proxy: TcpProxy,
    private readonly pair: Pair,
    private readonly count: (bytes: number) => void,
  ) {
    from.on('data', (chunk: Buffer) => this.#receive(chunk));
    // Not `pipe`: every byte goes through the proxy's current mode (latency, blackhole).
  }

  #receive(chunk: Buffer): void {
    if (this.proxy.isBlackholed) return this.#drop(chunk);
    const latency = this.proxy.latencyMs;
    if (latency === 0 && this.#queue.length === 0) return this.#write(chunk);
    const due = Math.max(Date.now() + latency, this.#lastDue);
    this.#lastDue = due;
    this.#queue.push({ chunk, due });
    this.#queuedBytes += chunk.length;
    if (this.#queuedBytes > HIGH_WATER) this.from.pause();
    this.#schedule();
  }

  #drop(chunk: Buffer): void {
    this.pair.tainted = true;
    this.proxy.stats.dropped += chunk.length;
  }

  #write(chunk: Buffer): void {
    if (this.proxy.isBlackholed) return this.#drop(chunk);
    if (this.to.destroyed) return;
    this.count(chunk.length);
    if (!this.to.write(chunk) && !this.#awaitingDrain) {
      this.#awaitingDrain = true;
      this.from.pause();
      this.to.once('drain', () => {
        this.#awaitingDrain = false;
        this.#maybeResume();
      });
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const head = this.#queue[0];
    if (head === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flushDue();
    }, Math.max(0, head.due - Date.now()));
  }

  #flushDue(): void {
    const now = Date.now();
    while (this.#queue.length > 0 && this.#queue[0]!.due <= now) {
      const { chunk } = this.#queue.shift()!;
      this.#queuedBytes -= chunk.length;
      this.#write(chunk);
    }
    this.#maybeResume();
    if (this.#queue.length > 0) this.#schedule();
    else if (this.#ending) this.#endNow();
  }

  #maybeResume(): void {
    if (!this.#awaitingDrain && this.#queuedBytes <= HIGH_WATER && !this.from.destroyed) this.from.resume();
  }

  /** `from` sent FIN (or closed cleanly): pass it on once the delayed bytes are delivered. */
  end(): void {
    this.#ending = true;
    if (this.#queue.length === 0) this.#endNow();
  }

  #endNow(): void {
    if (!this.to.destroyed && !this.to.writableEnded) this.to.end();
  }

  /** Forget delayed bytes (the pair is being torn down). */
  discard(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }
}

class Pair {
  /** Bytes were dropped by a blackhole: the stream has a hole, so it cannot carry on after restore(). */
  tainted = false;
  readonly lanes: Lane[];

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    proxy: TcpProxy,
    onClosed: (pair: Pair) => void,
  ) {
    const up = new Lane(client, upstream, proxy, this, (n) => (proxy.stats.bytesToTarget += n));
    const down = new Lane(upstream, client, proxy, this, (n) => (proxy.stats.bytesToClient += n));
    this.lanes = [up, down];
    for (const [socket, other, lane] of [
      [client, upstream, up],
      [upstream, client, down],
    ] as const) {
      socket.on('error', () => undefined); // reported through 'close' (hadError)
      socket.on('end', () => {
        // Through a black hole no FIN arrives either: the other end learns nothing.
        if (proxy.isBlackholed) this.tainted = true;
        else lane.end();
      });
      socket.on('close', (hadError) => {
        if (proxy.isBlackholed) {
          this.tainted = true;
        } else if (hadError) {
          // A reset on one side becomes a reset on the other.
          lane.discard();
          if (!other.destroyed) other.resetAndDestroy();
        } else {
          lane.end();
          // The other side may still be flushing; destroy it once its last bytes are written.
          if (!other.destroyed) {
            if (other.writableFinished) other.destroy();
            else other.once('finish', () => other.destroy());
          }
        }
        if (client.destroyed && upstream.destroyed) onClosed(this);
      });
    }
  }

  /** Tear both sides down at once, with a reset (as a cut network, seen from either end). */
  reset(): void {
    for (const lane of this.lanes) lane.discard();
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (!this.upstream.destroyed) this.upstream.resetAndDestroy();
  }
}

/**
 * A TCP proxy on 127.0.0.1 between a client (the bridge) and a broker, for network fault
 * injection: `cut()` (every connection reset, new ones refused), `blackhole()` (connections stay
 * open but nothing gets through either way: TCP notices nothing, only application keepalives
 * can), `setLatency(ms)`, and `restore()`.
 */
export class TcpProxy {
  readonly port: number;
  /** `mqtt://127.0.0.1:port`: hand this to the client instead of the broker's url. */
  readonly url: string;
  readonly target: { host: string; port: number };
  readonly stats: TcpProxyStats = { accepted: 0, refused: 0, bytesToTarget: 0, bytesToClient: 0, dropped: 0 };
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  /** Client sockets whose upstream connection is still being made, with that connection. */
  readonly #pending = new Map<Socket, Socket>();
  #cut = false;
  #blackholed = false;
  #latencyMs = 0;
  #stopping: Promise<void> | undefined;

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.target = { ...target };
    this.port = (server.address() as AddressInfo).port;
    this.url = `mqtt://127.0.0.1:${this.port}`;
    server.on('connection', (socket) => this.#accept(socket));
  }

  static async start({ target, listenPort = 0 }: TcpProxyOptions): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new TcpProxy(server, target);
  }

  get isCut(): boolean {
    return this.#cut;
  }

  get isBlackholed(): boolean {
    return this.#blackholed;
  }

  /** One-way delay added to every chunk, each direction (a round trip gains twice this). */
  get latencyMs(): number {
    return this.#latencyMs;
  }

  /** Open client ↔ target connection pairs (including those still connecting to the target). */
  connections(): number {
    return this.#pairs.size + this.#pending.size;
  }

  /** Reset every open connection and reset each new one at once, until restore(). */
  cut(): void {
    this.#cut = true;
    for (const [client, upstream] of this.#pending) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.#pending.clear();
    for (const pair of this.#pairs) pair.reset();
    this.#pairs.clear();
  }

  /**
   * Keep every connection open but drop every byte, both ways; new connections are accepted and
   * go nowhere too. Neither end's TCP notices: only an application-level keepalive can.
   */
  blackhole(): void {
    this.#blackholed = true;
  }

  /**
   * Back to normal: new connections go through. Connections that lost bytes to a blackhole are
   * reset (their byte streams have holes, which real TCP would never deliver); untouched ones
   * carry on. Latency is kept; setLatency(0) removes it.
   */
  restore(): void {
    this.#cut = false;
    this.#blackholed = false;
    for (const pair of this.#pairs) {
      if (pair.tainted) {
        pair.reset();
        this.#pairs.delete(pair);
      }
    }
  }

  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be a non-negative number of ms, got ${ms}`);
    this.#latencyMs = ms;
  }

  /** Close the listener and every connection; resolves when the port is free. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.cut();
    });
    return this.#stopping;
  }

  #accept(client: Socket): void {
    if (this.#cut || this.#stopping) {
      this.stats.refused += 1;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    client.setNoDelay(true);
    client.pause();
    const upstream = createConnection({ host: this.target.host, port: this.target.port });
    upstream.setNoDelay(true);
    this.#pending.set(client, upstream);
    const onEarlyError = (): void => {
      // The target is down: the client sees its connection reset, as with no proxy in between.
      if (!this.#pending.delete(client)) return;
      this.stats.refused += 1;
      client.on('error', () => undefined);
      client.resetAndDestroy();
    };
    const onEarlyClientClose = (): void => {
      if (this.#pending.delete(client)) upstream.destroy();
    };
    upstream.once('error', onEarlyError);
    client.once('close', onEarlyClientClose);
    client.on('error', () => undefined);
    upstream.once('connect', () => {
      upstream.off('error', onEarlyError);
      client.off('close', onEarlyClientClose);
      if (!this.#pending.delete(client)) {
        // cut() or the client went away while we were connecting.
        upstream.destroy();
        return;
      }
      this.stats.accepted += 1;
      const pair = new Pair(client, upstream, this, (closed) => this.#pairs.delete(closed));
      this.#pairs.add(pair);
      client.resume();
    });
  }
}
