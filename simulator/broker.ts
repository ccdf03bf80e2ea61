import type { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';

export interface EmbeddedBrokerOptions {
  /** Interface to listen on. Default 127.0.0.1 (never exposed beyond the machine by default). */
  host?: string;
  /** TCP port; 0 (the default) picks a free port. */
  port?: number;
  /** Passed through to aedes (e.g. heartbeatInterval, authenticate). Persistence defaults to in-memory. */
  aedes?: AedesOptions;
  /** Background broker errors (aedes 'error' events). Default: console.error. */
  onError?: (err: Error) => void;
}

/**
 * An in-process MQTT broker (aedes on a plain `net` server) for tests and demos. In-memory
 * persistence: retained messages, QoS 1/2 and persistent sessions work for the broker's lifetime.
 */
export class EmbeddedBroker {
  /** `mqtt://host:port`, ready for mqtt.js. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly aedes: Aedes;
  readonly #server: Server;
  readonly #sockets: Set<Socket>;
  readonly #ownsPersistence: boolean;
  #stopping: Promise<void> | undefined;

  private constructor(aedes: Aedes, server: Server, sockets: Set<Socket>, host: string, port: number, ownsPersistence: boolean) {
    this.aedes = aedes;
    this.#ownsPersistence = ownsPersistence;
    this.#server = server;
    this.#sockets = sockets;
    this.host = host;
    this.port = port;
    const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    this.url = `mqtt://${urlHost}:${port}`;
  }

  static async start({
    host = '127.0.0.1',
    port = 0,
    aedes: aedesOptions,
    onError = (err) => console.error('embedded broker:', err),
  }: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
    // aedes 1.x: no default export and no factory call; the (async) persistence must be set up
    // before the broker handles connections, hence `await Aedes.createBroker()`.
    const aedes = await Aedes.createBroker(aedesOptions);
    // aedes emits 'error' for background failures (will sweeps); without a listener that would crash.
    // (Its typings list every event but 'error', hence the widening.)
    (aedes as EventEmitter).on('error', onError);
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      aedes.handle(socket);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await new Promise<void>((resolve) => aedes.close(resolve));
      throw err;
    }
    const actualPort = (server.address() as AddressInfo).port;
    return new EmbeddedBroker(aedes, server, sockets, host, actualPort, aedesOptions?.persistence === undefined);
  }

  /** Clients that completed CONNECT and are still connected. */
  clientCount(): number {
    return this.aedes.connectedClients;
  }

  /**
   * Stop accepting connections, close every client, the server and aedes. Idempotent; resolves
   * when nothing of the broker keeps the event loop alive.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // Closes every registered (CONNECTed) client and the message emitter.
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    // Sockets that never completed CONNECT are not known to aedes; server.close() would wait for them.
    for (const socket of this.#sockets) socket.destroy();
    await serverClosed;
    if (this.#ownsPersistence) {
      // The default in-memory persistence (aedes-persistence 11): destroy() without a callback returns a promise.
      const persistence = (this.aedes as unknown as { persistence?: { destroy?: () => unknown } }).persistence;
      try {
        await persistence?.destroy?.();
      } catch {
        // in-memory: nothing to lose
      }
    }
  }
}
