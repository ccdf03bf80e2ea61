import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TerminalLink, type TerminalInfo } from '../../bridge/terminal/terminal-link.js';
import { silentLogger } from '../../bridge/log.js';
import { hostTimers } from '../../protocol/timers.js';
import { MemoryJournal } from '../../simulator/memory-journal.js';
import { closeVirtualPort, createVirtualLine, openVirtualPort } from '../../simulator/virtual-serial-line.js';
import { VirtualTerminal } from '../../simulator/virtual-terminal.js';
import { memoryPairing } from '../support/paired-line.js';
import { waitUntil } from '../../simulator/wait.js';

/*
 * A terminal behind ser2net: the bridge's TerminalLink on tcp://host:port, a TCP server standing in
 * for ser2net that joins each connection to a serial line, and the virtual terminal at the line's
 * far end. The link says hello over TCP and comes back after the connection drops.
 */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** ser2net's job: one TCP connection at a time, piped both ways to the serial port at `path`. */
async function ser2net(path: string): Promise<{ port: number; connections: Socket[] }> {
  const connections: Socket[] = [];
  const server = createServer((socket) => {
    connections.push(socket);
    const serial = openVirtualPort(path);
    serial.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('data', (chunk) => serial.write(chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => void closeVirtualPort(serial));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => server.close(resolve)), () => connections.forEach((s) => s.destroy()));
  return { port: (server.address() as { port: number }).port, connections };
}

describe('a terminal behind ser2net (tcp://host:port)', () => {
  it('says hello over TCP, and again after the connection drops', async () => {
    const line = createVirtualLine(`tcp-terminal-${process.pid}`);
    const terminal = await VirtualTerminal.start({ devicePath: line.devicePath, serial: 'SIM-TCP-1', journal: new MemoryJournal() });
    cleanups.push(() => terminal.stop());
    const forwarder = await ser2net(line.bridgePath);
    const hellos: TerminalInfo[] = [];
    const link = new TerminalLink({
      path: `tcp://127.0.0.1:${forwarder.port}`,
      baudRate: 115200,
      openPort: () => {
        throw new Error('a TCP address opens no serial port');
      },
      timers: hostTimers,
      bootId: '0123456789abcdef',
      logger: silentLogger,
      // Not paired yet: the terminal takes the key over the line, as at a new installation.
      pairing: memoryPairing(null),
      onReport: () => undefined,
    });
    link.on('hello', (device) => hellos.push(device));
    link.start();
    cleanups.push(() => link.stop());
    await waitUntil(() => hellos.length > 0, 'the terminal hello over TCP');
    expect(hellos[0]).toMatchObject({ serial: 'SIM-TCP-1' });
    expect(link.status()).toMatchObject({ path: `tcp://127.0.0.1:${forwarder.port}`, portOpen: true });

    forwarder.connections[0]!.destroy(); // the network drops the connection
    await waitUntil(() => !link.status().portOpen, 'the link to see the drop');
    const before = hellos.length;
    await waitUntil(() => hellos.length > before && link.status().portOpen, 'the link back, and a new hello', { timeoutMs: 10_000 });
    expect(forwarder.connections).toHaveLength(2);
  });
});
