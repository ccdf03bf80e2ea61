import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { PrinterCore, type PrinterCoreOptions } from './virtual-printer.js';

/**
 * A network receipt printer: a real TCP server on 127.0.0.1 (the raw port 9100 of a real one,
 * here a free port), the printer core behind it. Each connection is a job; status requests are
 * answered on the connection they came on. Faults beyond the core's: connections dropped
 * (dropConnections; mid-receipt with faultAfter), the server down (a printer switched off or off
 * the network: unplug) and up again (plug).
 */
export class NetworkPrinter extends PrinterCore {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** The connection whose bytes are being parsed: status answers go back on it. */
  private speaking: Socket | undefined;
  private port = 0;

  private constructor(options: PrinterCoreOptions) {
    super(options);
  }

  static async start(options: PrinterCoreOptions = {}): Promise<NetworkPrinter> {
    const printer = new NetworkPrinter(options);
    await printer.plug();
    return printer;
  }

  /** Where the bridge finds it: tcp://127.0.0.1:port (the same port after unplug and plug). */
  get address(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  get plugged(): boolean {
    return this.server?.listening ?? false;
  }

  /** Clients connected now. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Server down: every connection reset, new ones refused. */
  async unplug(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropConnections();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /** Server up again, on the same port. */
  async plug(): Promise<void> {
    if (this.server || this.isStopped) return;
    const server = createServer((socket) => this.accept(socket));
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Every connection dropped (reset), the server still up: the network hiccuped. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  protected answer(bytes: Buffer): boolean {
    if (!this.speaking || this.speaking.destroyed) return false;
    this.speaking.write(bytes);
    return true;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    this.newJob();
    socket.on('error', () => undefined); // a reset from the far end: the socket closes
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      this.speaking = socket;
      this.receive(chunk);
      this.speaking = undefined;
    });
  }
}
