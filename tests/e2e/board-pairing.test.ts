import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Bridge } from '../../bridge/bridge.js';
import { parseConfig, type BridgeConfig } from '../../bridge/config.js';
import { silentLogger } from '../../bridge/log.js';
import { boardTerminalOpener, type BoardTerminalDeps } from '../../bridge/terminal/board-terminal.js';
import { pairingFile, resetPairing } from '../../bridge/terminal/pairing.js';
import { FirmataBoard } from '../../simulator/firmata-board.js';
import { waitUntil } from '../../simulator/wait.js';

/*
 * A terminal on an Arduino (config `board`): the device is the Arduino its USB serial number
 * names. Another Arduino on the terminal's port is another device: terminal_replaced, nothing
 * taken from it, until a technician re-pairs. The real bridge, firmata.js and johnny-five, on
 * the emulated StandardFirmata board.
 */
const dir = mkdtempSync(join(tmpdir(), 'hcp-board-pairing-'));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PINS = { buttons: [2, 3, 4, 5, 6], leds: [8, 9, 10, 11, 12], buzzer: 7 };

describe('pairing with a terminal on an Arduino', () => {
  it('pins the Arduino by its USB serial number; another Arduino on the port raises terminal_replaced until re-paired', async () => {
    const first = await FirmataBoard.start({ name: `pair-a-${process.pid}`, usbSerialNumber: '55736303831351E0A1' });
    const second = await FirmataBoard.start({ name: `pair-b-${process.pid}`, usbSerialNumber: '85439313230351D0B2' });
    await second.unplug();
    cleanups.push(() => first.unplug(), () => second.unplug());
    /** The Arduino on the terminal's port now: the test swaps it. */
    let current = first;
    const config: BridgeConfig = parseConfig({
      terminal: { id: 'BRD-PAIR-1', areaCode: '330106', hallCode: '330106-ZWFW-01', windowNo: 'B9' },
      board: { path: first.hostPath, pins: PINS },
      mqtt: { url: 'mqtt://127.0.0.1:9' },
      database: { path: join(dir, 'hcp.db') },
      clock: { trust: 'system' },
      http: { port: 0, allowUnverifiedStaff: true },
      log: { level: 'silent' },
    });
    const deps: BoardTerminalDeps = {
      openSerialPort: (_path, baudRate) => current.openHostPort(current.hostPath, baudRate) as ReturnType<BoardTerminalDeps['openSerialPort']>,
      logger: silentLogger,
      usbSerialNumber: async () => current.usbSerialNumber,
    };
    const start = async (): Promise<Bridge> => {
      const bridge = await Bridge.start(config, { openPort: boardTerminalOpener(config, deps), linkTiming: { heartbeatMs: 200 } });
      cleanups.push(() => bridge.stop());
      return bridge;
    };

    let bridge = await start();
    await waitUntil(() => bridge.status().link.alive, 'the terminal on the first Arduino');
    expect(bridge.status().link.pairing).toEqual({ serial: 'usb-55736303831351E0A1', replacedBy: null });

    // The first Arduino unplugged, the second plugged in its place.
    await first.unplug();
    current = second;
    await second.plug();
    await waitUntil(() => bridge.status().alarms.includes('terminal_replaced'), 'terminal_replaced');
    expect(bridge.status().link).toMatchObject({ alive: false, pairing: { serial: 'usb-55736303831351E0A1', replacedBy: 'usb-85439313230351D0B2' } });

    // The technician re-pairs: hcp pair's reset, then the service again.
    await bridge.stop();
    cleanups.pop();
    resetPairing(pairingFile(config));
    bridge = await start();
    await waitUntil(() => bridge.status().link.alive, 'the terminal on the second Arduino');
    expect(bridge.status().link.pairing).toEqual({ serial: 'usb-85439313230351D0B2', replacedBy: null });
    expect(bridge.status().alarms).not.toContain('terminal_replaced');
  });
});
