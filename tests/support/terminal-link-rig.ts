import { SerialPortStream } from '@serialport/stream';
import { silentLogger } from '../../bridge/log.js';
import type { Pairing } from '../../bridge/terminal/pairing.js';
import { TerminalLink, type TerminalReport } from '../../bridge/terminal/terminal-link.js';
import type { SerialPortLike } from '../../bridge/transport/transport.js';
import { decodeFrame } from '../../protocol/frame.js';
import { lineSplitter } from '../../protocol/line-splitter.js';
import { bridgeMessageSchema, type BridgeMessage } from '../../protocol/serial-messages.js';
import { hostTimers } from '../../protocol/timers.js';
import { closeVirtualPort, createVirtualLine, openVirtualPort, virtualSerialBinding } from '../../simulator/virtual-serial-line.js';
import { waitUntil } from '../../simulator/wait.js';
import { memoryPairing, terminalFrame, TEST_PAIRING_KEY } from './paired-line.js';

export const RIG_BRIDGE_BOOT = '0123456789abcdef';
/** The serial the rig's bridge is paired with. */
export const RIG_TERMINAL_SERIAL = 'T-UPPER';

let lines = 0;

/**
 * The bridge's TerminalLink on a virtual line, paired with RIG_TERMINAL_SERIAL under
 * TEST_PAIRING_KEY, with the test writing the terminal's bytes by hand (`send` tags them as the
 * paired terminal would; `device.write` puts anything on the wire). `cleanups` gets what to undo.
 */
export async function terminalLinkRig(cleanups: (() => unknown)[], heartbeatMs = 60_000, pairing: Pairing = memoryPairing(RIG_TERMINAL_SERIAL)) {
  const line = createVirtualLine(`terminal-link-${process.pid}-${++lines}`);
  const reports: TerminalReport[] = [];
  const link = new TerminalLink({
    path: line.bridgePath,
    baudRate: 115200,
    openPort: (path, baudRate) => new SerialPortStream({ binding: virtualSerialBinding, path, baudRate, autoOpen: false }) as SerialPortLike,
    timers: hostTimers,
    bootId: RIG_BRIDGE_BOOT,
    logger: silentLogger,
    pairing,
    onReport: (report) => void reports.push(report),
    link: { heartbeatMs },
  });
  const device = openVirtualPort(line.devicePath);
  const heard: BridgeMessage[] = [];
  const split = lineSplitter({
    line: (text) => {
      const decoded = decodeFrame(text);
      if (decoded.ok) heard.push(bridgeMessageSchema.parse(decoded.value));
    },
    tooLong: () => undefined,
  });
  device.on('data', (chunk: Buffer) => split(chunk.toString('latin1')));
  link.start();
  cleanups.push(() => link.stop(), () => closeVirtualPort(device));
  await waitUntil(() => heard.some((m) => m.type === 'hello'), 'the bridge hello');
  let seq = 0;
  // The paired terminal's session: its latest hello's boot and the bridge's.
  let terminalBoot = '';
  const send = (message: Record<string, unknown> & { type: string }): number => {
    seq += 1;
    if (message.type === 'hello' && typeof message.boot === 'string') terminalBoot = message.boot;
    device.write(terminalFrame({ ...message, seq }, { key: TEST_PAIRING_KEY, terminalBoot, bridgeBoot: RIG_BRIDGE_BOOT }));
    return seq;
  };
  return { line, link, reports, heard, send, device, session: () => ({ terminalBoot, bridgeBoot: RIG_BRIDGE_BOOT }) };
}
