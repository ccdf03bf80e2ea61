import { once } from 'node:events';
import type { SerialPortStream } from '@serialport/stream';
import { afterEach, describe, expect, it } from 'vitest';
import { closeVirtualPort, createVirtualLine, openVirtualPort } from '../../simulator/virtual-serial-line.js';
import { waitUntil } from '../../simulator/wait.js';

const opened: SerialPortStream[] = [];
let lineNo = 0;

/** Opens a port and collects everything its reader receives. */
async function open(path: string): Promise<{ port: SerialPortStream; received: () => string }> {
  const port = openVirtualPort(path);
  opened.push(port);
  let text = '';
  port.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  await once(port, 'open');
  return { port, received: () => text };
}

async function cable() {
  const line = createVirtualLine(`unit-${++lineNo}`);
  const [bridge, device] = await Promise.all([open(line.bridgePath), open(line.devicePath)]);
  return { line, bridge, device };
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((port) => closeVirtualPort(port)));
});

describe('virtual serial line', () => {
  it('carries bytes written at either end to the other', async () => {
    const { bridge, device } = await cable();
    bridge.port.write('to the device\n');
    device.port.write(Buffer.from([0x00, 0xff, 0x0a]));
    await waitUntil(() => device.received() === 'to the device\n', 'bytes at the device end');
    await waitUntil(() => bridge.received() === '\x00\xff\n', 'bytes at the bridge end');
  });

  it('injects bytes into one end as if they came down the wire', async () => {
    const { line, bridge, device } = await cable();
    expect(line.injectToBridge('noise\x07')).toBe(true);
    expect(line.injectToDevice(Buffer.from('more noise'))).toBe(true);
    await waitUntil(() => bridge.received() === 'noise\x07', 'noise at the bridge end');
    await waitUntil(() => device.received() === 'more noise', 'noise at the device end');
  });

  it('keeps lines apart', async () => {
    const a = await cable();
    const b = await cable();
    a.bridge.port.write('for a\n');
    b.bridge.port.write('for b\n');
    await waitUntil(() => a.device.received() === 'for a\n', 'line a');
    await waitUntil(() => b.device.received() === 'for b\n', 'line b');
    expect(a.bridge.received()).toBe('');
    expect(b.bridge.received()).toBe('');
  });

  it('loses what is written while the other end is not open, like an unplugged cable', async () => {
    const line = createVirtualLine(`unit-${++lineNo}`);
    const bridge = await open(line.bridgePath);
    expect(line.injectToDevice('nobody here')).toBe(false);
    await new Promise<void>((resolve, reject) => bridge.port.write('lost\n', (err) => (err ? reject(err) : resolve())));
    const device = await open(line.devicePath);
    bridge.port.write('heard\n');
    await waitUntil(() => device.received() === 'heard\n', 'the write after the device opened');
  });

  it('lets a port close right after a write, and open again', async () => {
    const { line, bridge, device } = await cable();
    const errors: Error[] = [];
    device.port.on('error', (err: Error) => errors.push(err));
    device.port.write('last words\n');
    await closeVirtualPort(device.port);
    expect(errors).toEqual([]);
    await waitUntil(() => bridge.received() === 'last words\n', 'the write finished before closing');
    const again = await open(line.devicePath);
    bridge.port.write('welcome back\n');
    await waitUntil(() => again.received() === 'welcome back\n', 'bytes at the reopened end');
  });

  it('refuses to create the same line twice', () => {
    createVirtualLine('twice');
    expect(() => createVirtualLine('twice')).toThrow(/already exists/);
    expect(() => createVirtualLine('no/slashes')).toThrow(/must be/);
  });
});
