import { Duplex } from 'node:stream';
import type { SerialPortLike } from './transport.js';

/**
 * A port shaped like serialport's for a device reached some other way (a socket, a device file):
 * open() and close() with callbacks, 'close' once when the device goes away, writes dropped while
 * closed. Subclasses say how to reach, write to and leave the device.
 */
export abstract class DeviceStream extends Duplex implements SerialPortLike {
  private opened = false;

  constructor() {
    // The port's life is told by open() and 'close', as serialport's is; the stream never ends.
    super({ autoDestroy: false, emitClose: false });
  }

  get isOpen(): boolean {
    return this.opened;
  }

  open(callback?: (err: Error | null) => void): void {
    this.connect().then(
      () => {
        this.opened = true;
        this.emit('open');
        callback?.(null);
      },
      (err: Error) => (callback ? callback(err) : this.emit('error', err)),
    );
  }

  close(callback?: (err: Error | null) => void): void {
    if (!this.opened) {
      callback?.(new Error('Port is not open'));
      return;
    }
    this.shut(callback);
  }

  /** Calls back once everything written so far has been handed to the device (or lost). */
  drain(callback: (err: Error | null) => void): void {
    // Writes go through one at a time: an empty one comes out after all before it.
    this.write(Buffer.alloc(0), () => callback(null));
  }

  /** The device went away (unplugged, connection dropped): the port closes, as serialport's does. */
  protected lost(err?: Error): void {
    if (err && this.opened) this.emit('error', err);
    this.shut();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (!this.opened || chunk.length === 0) return callback(); // else the device is gone: the bytes are lost
    this.send(chunk).then(
      () => callback(),
      (err: Error) => {
        this.lost(err);
        callback();
      },
    );
  }

  override _read(): void {
    // Bytes are pushed as the device sends them.
  }

  /** Closes once: what was being written is given up, the device left, 'close' emitted. */
  private shut(callback?: (err: Error | null) => void): void {
    if (!this.opened) return callback?.(null);
    this.opened = false;
    void this.disconnect().finally(() => {
      this.emit('close');
      callback?.(null);
    });
  }

  protected abstract connect(): Promise<void>;
  protected abstract send(chunk: Buffer): Promise<void>;
  /** Leaves the device; never rejects. */
  protected abstract disconnect(): Promise<void>;
}
