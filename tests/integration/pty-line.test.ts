import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ReadlineParser } from '@serialport/parser-readline';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import { terminalMessageSchema, SERIAL_PROTOCOL_VERSION, type TerminalMessage } from '../../protocol/serial-messages.js';
import { PtyLine } from '../../simulator/pty-line.js';
import { closeVirtualPort } from '../../simulator/virtual-serial-line.js';
import { VirtualTerminal } from '../../simulator/virtual-terminal.js';
import { waitUntil } from '../../simulator/wait.js';

/** A real serial line (socat pty pair) with the virtual terminal at its device end, on serialport's real binding. */
const SERIAL = 'PTY-LINE-0001';
const openRealPort = (path: string): SerialPort => new SerialPort({ path, baudRate: 115200, autoOpen: false });

let line: PtyLine;
let terminal: VirtualTerminal;

beforeAll(async () => {
  line = await PtyLine.start();
  terminal = await VirtualTerminal.start({ devicePath: line.devicePath, serial: SERIAL, openPort: openRealPort });
});

afterAll(async () => {
  await terminal?.stop();
  await line?.stop();
});

/** The test plays a bridge at the bridge end: a fresh boot each time it opens the port. */
class BridgeEnd {
  readonly received: TerminalMessage[] = [];
  private seq = 1;

  private constructor(private readonly port: SerialPort) {
    port.pipe(new ReadlineParser({ delimiter: '\n' })).on('data', (raw: string) => {
      const frame = decodeFrame(raw);
      const parsed = frame.ok ? terminalMessageSchema.safeParse(frame.value) : undefined;
      if (parsed?.success) this.received.push(parsed.data);
    });
  }

  static async open(path: string): Promise<BridgeEnd> {
    const port = openRealPort(path);
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    return new BridgeEnd(port);
  }

  /** Says hello as a newly started bridge; the terminal must answer with its own hello. */
  async handshake(): Promise<Extract<TerminalMessage, { type: 'hello' }>> {
    const seq = this.seq++;
    this.port.write(encodeFrame({ type: 'hello', seq, proto: SERIAL_PROTOCOL_VERSION, boot: randomBytes(8).toString('hex') }));
    const hello = await waitUntil(
      () => this.received.find((m): m is Extract<TerminalMessage, { type: 'hello' }> => m.type === 'hello'),
      "the terminal's hello",
    );
    this.port.write(encodeFrame({ type: 'ack', seq: this.seq++, ack: hello.seq }));
    return hello;
  }

  close(): Promise<void> {
    return closeVirtualPort(this.port);
  }
}

describe('PtyLine', () => {
  it('carries frames both ways, and outlives its bridge end being closed and opened again', async () => {
    for (let round = 1; round <= 3; round++) {
      const end = await BridgeEnd.open(line.bridgePath);
      expect((await end.handshake()).serial).toBe(SERIAL);
      await end.close(); // as when the bridge process dies
      expect(line.exited).toBeUndefined();
    }
  });

  it('lets the terminal be unplugged and plugged back on the real port', async () => {
    const end = await BridgeEnd.open(line.bridgePath);
    await terminal.unplug();
    expect(terminal.plugged).toBe(false);
    await terminal.plug();
    expect(terminal.plugged).toBe(true);
    expect((await end.handshake()).serial).toBe(SERIAL);
    await end.close();
  });

  it('stop() ends socat and removes both ends; the terminal sees its line go', async () => {
    await line.stop();
    await line.stop(); // idempotent
    expect(line.exited).toEqual({ code: 143, signal: null }); // socat exits 128+15 on SIGTERM
    expect(existsSync(line.bridgePath) || existsSync(line.devicePath)).toBe(false);
    await waitUntil(() => !terminal.plugged, 'the terminal port to close on the disconnect');
    await expect(terminal.plug()).rejects.toThrow(/no such file/i);
  });
});
