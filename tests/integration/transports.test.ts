import { once } from 'node:events';
import { closeSync, openSync, readSync, writeSync, constants } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { hostTimers } from '../../protocol/timers.js';
import { openTransport, type SerialPortLike } from '../../bridge/transport/transport.js';
import { PtyLine } from '../../simulator/pty-line.js';
import { waitUntil } from '../../simulator/wait.js';

/** Each transport on a real far end: a TCP server on 127.0.0.1, a pty standing in for /dev/usb/lp0. */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const noSerial = () => {
  throw new Error('no serial port here');
};

function opened(port: SerialPortLike): Promise<void> {
  return new Promise((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
}
function closed(port: SerialPortLike): Promise<void> {
  return new Promise((resolve) => port.close(() => resolve()));
}
function collect(port: SerialPortLike): number[] {
  const got: number[] = [];
  port.on('data', (chunk: Buffer) => got.push(...chunk));
  return got;
}

async function tcpServer(): Promise<{ server: Server; port: number; sockets: Socket[]; received: number[] }> {
  const sockets: Socket[] = [];
  const received: number[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('data', (chunk) => received.push(...chunk));
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => server.close(resolve)), () => sockets.forEach((s) => s.destroy()));
  return { server, port: (server.address() as { port: number }).port, sockets, received };
}

describe('tcp://host:port', () => {
  it('carries bytes both ways, closes when the far end drops the connection, and fails to open when refused', async () => {
    const far = await tcpServer();
    const port = openTransport({ kind: 'tcp', host: '127.0.0.1', port: far.port }, 9600, { openSerialPort: noSerial, timers: hostTimers });
    const got = collect(port);
    await opened(port);
    expect(port.isOpen).toBe(true);
    port.write(Buffer.from([0x10, 0x04, 0x01]));
    await new Promise<void>((resolve) => (port as SerialPortLike & { drain(cb: () => void): void }).drain(resolve));
    await waitUntil(() => far.received.length === 3, 'the bytes at the server');
    far.sockets[0]!.write(Buffer.from([0x12]));
    await waitUntil(() => got.length === 1, 'the answer');
    const lost = once(port, 'close');
    far.sockets[0]!.destroy();
    await lost;
    expect(port.isOpen).toBe(false);

    await new Promise((resolve) => far.server.close(resolve));
    const refused = openTransport({ kind: 'tcp', host: '127.0.0.1', port: far.port }, 9600, { openSerialPort: noSerial, timers: hostTimers });
    await expect(opened(refused)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('/dev/usb/lp0 (a pty in its place)', () => {
  async function ptyPrinter() {
    const line = await PtyLine.start();
    cleanups.push(() => line.stop());
    // The printer's end, read and written by the test as the printer would.
    const fd = openSync(line.devicePath, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
    cleanups.push(() => closeSync(fd));
    const read = (): number[] => {
      const buffer = Buffer.alloc(256);
      try {
        return [...buffer.subarray(0, readSync(fd, buffer))];
      } catch {
        return [];
      }
    };
    return { line, fd, read };
  }

  it('writes with fs, reads what the printer answers, and closes when the device goes away', async () => {
    const printer = await ptyPrinter();
    const port = openTransport({ kind: 'usb-lp', path: printer.line.bridgePath }, 9600, { openSerialPort: noSerial, timers: hostTimers });
    const got = collect(port);
    await opened(port);
    const job = Buffer.from('打印'.repeat(400)); // more than a pty takes in one write
    port.write(job);
    const received: number[] = [];
    await waitUntil(() => (received.push(...printer.read()), received.length === job.length), 'the bytes at the printer');
    expect(Buffer.from(received)).toEqual(job);
    writeSync(printer.fd, Buffer.from([0x12, 0x12, 0x12]));
    await waitUntil(() => got.length === 3, 'the answers');
    const lost = once(port, 'close');
    await printer.line.stop(); // unplugged: the device file is gone
    await lost;
    expect(port.isOpen).toBe(false);
    await expect(opened(openTransport({ kind: 'usb-lp', path: printer.line.bridgePath }, 9600, { openSerialPort: noSerial, timers: hostTimers }))).rejects.toThrow(/ENOENT/);
  });

  it('close() returns at once while a printer that never answers is being read', async () => {
    const printer = await ptyPrinter();
    const port = openTransport({ kind: 'usb-lp', path: printer.line.bridgePath }, 9600, { openSerialPort: noSerial, timers: hostTimers });
    await opened(port);
    port.write(Buffer.from([0x10, 0x04, 0x01]));
    await waitUntil(() => printer.read().length > 0, 'the request at the printer');
    let done = false;
    const closing = closed(port).then(() => (done = true));
    await waitUntil(() => done, 'close() to return', { timeoutMs: 1000 });
    await closing;
  });
});
