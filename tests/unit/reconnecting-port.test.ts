import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../bridge/log.js';
import { ReconnectingPort } from '../../bridge/transport/reconnecting-port.js';
import type { SerialPortLike } from '../../bridge/transport/transport.js';
import { ManualTimers } from '../support/manual-timers.js';

/** A port whose open completes only when the test says so (as a board's Firmata handshake). */
class SlowPort extends Duplex implements SerialPortLike {
  isOpen = false;
  closedByUs = false;
  finishOpen: ((err?: Error) => void) | undefined;
  open(callback?: (err: Error | null) => void): void {
    this.finishOpen = (err) => {
      this.isOpen = !err;
      callback?.(err ?? null);
    };
  }
  close(callback?: (err: Error | null) => void): void {
    this.isOpen = false;
    this.closedByUs = true;
    callback?.(null);
  }
  /** The device went away: the port closes on its own. */
  pull(): void {
    this.isOpen = false;
    this.emit('close');
  }
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: () => void): void {
    callback();
  }
}

function reconnecting(openPort: () => SerialPortLike, timers = new ManualTimers()) {
  return new ReconnectingPort({ path: '/dev/ttyACM0', openPort, timers, logger: silentLogger, role: 'terminal', reconnectMs: 500, maxReconnectMs: 2000 });
}

describe('reconnecting port', () => {
  it('stopped while the port is still opening: waits, then closes it, and never reports it open', async () => {
    const port = new SlowPort();
    const link = reconnecting(() => port);
    let opened = false;
    link.on('open', () => (opened = true));
    link.start();
    let stopped = false;
    const stopping = link.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false); // still waiting for the open to finish
    port.finishOpen?.();
    await stopping;
    expect(port.closedByUs).toBe(true);
    expect(opened).toBe(false);
  });

  it('retries a device that is not there with backoff (500, 1000, 2000, 2000 ms), and starts over once it opens', () => {
    const timers = new ManualTimers();
    const ports: SlowPort[] = [];
    const link = reconnecting(() => {
      const port = new SlowPort();
      ports.push(port);
      return port;
    }, timers);
    link.start();
    const refuse = () => ports.at(-1)!.finishOpen?.(new Error('ENOENT'));
    const opensAfter = (ms: number) => {
      const before = ports.length;
      timers.advance(ms - 1);
      expect(ports).toHaveLength(before);
      timers.advance(1);
      expect(ports).toHaveLength(before + 1);
    };
    refuse();
    opensAfter(500);
    refuse();
    opensAfter(1000);
    refuse();
    opensAfter(2000);
    refuse();
    opensAfter(2000);
    ports.at(-1)!.finishOpen?.();
    expect(link.isOpen).toBe(true);
    let closed = 0;
    link.on('close', () => closed++);
    ports.at(-1)!.pull(); // unplugged: reopened after the first delay again
    expect(closed).toBe(1);
    expect(link.write('x')).toBe(false);
    opensAfter(500);
    void link.stop();
  });

  it('stop() cancels a pending reopen', async () => {
    const timers = new ManualTimers();
    let opens = 0;
    const link = reconnecting(() => {
      opens++;
      const port = new SlowPort();
      queueMicrotask(() => port.finishOpen?.(new Error('ECONNREFUSED')));
      return port;
    }, timers);
    link.start();
    await new Promise((resolve) => setImmediate(resolve));
    await link.stop();
    timers.advance(10_000);
    expect(opens).toBe(1);
  });
});
