import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../bridge/log.js';
import { ReconnectingPort, type SerialPortLike } from '../../bridge/serial/reconnecting-port.js';

/** A port whose open completes only when the test says so (as a board's Firmata handshake). */
class SlowPort extends Duplex implements SerialPortLike {
  isOpen = false;
  closedByUs = false;
  finishOpen: (() => void) | undefined;
  open(callback?: (err: Error | null) => void): void {
    this.finishOpen = () => {
      this.isOpen = true;
      callback?.(null);
    };
  }
  close(callback?: (err: Error | null) => void): void {
    this.isOpen = false;
    this.closedByUs = true;
    callback?.(null);
  }
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: () => void): void {
    callback();
  }
}

describe('reconnecting port', () => {
  it('stopped while the port is still opening: waits, then closes it, and never reports it open', async () => {
    const port = new SlowPort();
    const reconnecting = new ReconnectingPort({ path: '/dev/ttyACM0', baudRate: 57600, openPort: () => port, logger: silentLogger, role: 'terminal' });
    let opened = false;
    reconnecting.on('open', () => (opened = true));
    reconnecting.start();
    let stopped = false;
    const stopping = reconnecting.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false); // still waiting for the open to finish
    port.finishOpen?.();
    await stopping;
    expect(port.closedByUs).toBe(true);
    expect(opened).toBe(false);
  });
});
