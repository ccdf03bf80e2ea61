import { connect as netConnect, type Socket } from 'node:net';
import { errorText, fail, ok, type CheckResult } from '../diagnose/check.js';
import { DeviceStream } from './device-stream.js';
import type { PresenceDeps, Transport, WantedPort } from './transport.js';

export type Connect = (options: { host: string; port: number }) => Socket;

const CONNECT_TIMEOUT_MS = 3000;

/** Seconds of silence before TCP asks whether the far end is still there (a printer switched off). */
const KEEPALIVE_MS = 5000;

/**
 * A device on a TCP socket: a network receipt printer (port 9100), or a terminal behind ser2net.
 * A refused connection fails the open; a dropped one closes the port (the owner reconnects).
 */
export class TcpPort extends DeviceStream {
  private socket: Socket | undefined;

  constructor(
    private readonly address: { host: string; port: number },
    private readonly connectTo: Connect = netConnect,
  ) {
    super();
  }

  protected connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = this.connectTo(this.address);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, KEEPALIVE_MS);
        socket.on('data', (chunk: Buffer) => this.push(chunk));
        socket.on('error', (err) => this.lost(err));
        socket.once('close', () => this.lost());
        this.socket = socket;
        resolve();
      });
    });
  }

  protected send(chunk: Buffer): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve, reject) => socket.write(chunk, (err) => (err ? reject(err) : resolve())));
  }

  protected disconnect(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket || socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      // What the device has not taken yet is given up: the port is closing.
      socket.destroy();
    });
  }
}

/** tcp://host:port: there when it accepts a connection. */
export const tcpTransport: Transport<'tcp'> = {
  open: (address, _baudRate, deps) => new TcpPort(address, deps.connect),
  present: checkTcp,
};

async function checkTcp({ name, path, what, field }: WantedPort, address: { host: string; port: number }, deps: PresenceDeps): Promise<CheckResult> {
  try {
    await deps.canConnect(address.host, address.port, CONNECT_TIMEOUT_MS);
    return ok(name, `${path} accepts connections`);
  } catch (err) {
    const printer = field === 'printer.path';
    return fail(name, `cannot connect to ${path} (the ${what}): ${errorText(err)}`, [
      printer
        ? 'check the printer is on and on this network: its self-test page (hold FEED while switching on) shows its IP address'
        : `check ser2net runs on ${address.host} and forwards port ${address.port} to the terminal's serial line`,
      `check ${field}: ${printer ? 'network printers take raw print jobs on port 9100' : 'the host and port of the ser2net connection'}`,
      `from this Pi: \`nc -vz ${address.host} ${address.port}\``,
    ]);
  }
}
