import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll } from 'vitest';
import { ProvinceEmulator } from '../../simulator/province.js';
import { PtyLine } from '../../simulator/pty-line.js';
import { VirtualTerminal } from '../../simulator/virtual-terminal.js';
import type { BridgeConfigInput } from '../../bridge/config.js';
import type { BridgeStatus } from '../../bridge/status/status.js';
import { BridgeProcess } from './bridge-process.js';
import type { BrokerKind, TestBroker } from './brokers.js';

export interface PtyRig {
  broker: TestBroker;
  province: ProvinceEmulator;
  line: PtyLine;
  terminal: VirtualTerminal;
  dir: string;
  /** Starts the real bridge CLI as a child process on the bridge end of the line. */
  startBridge(terminalId: string, mqtt?: Partial<BridgeConfigInput['mqtt']>): Promise<BridgeProcess>;
  /** Linked: the bridge hears this terminal and is connected to the broker. */
  linked(status: BridgeStatus): boolean;
}

/**
 * For a test file: a broker, the province, a socat pty pair (a real serial line) and a virtual
 * terminal on its device end through serialport's real binding, all torn down at the end, each
 * step even if an earlier one failed. The bridge runs as a child process (`hcp run`).
 */
export function usePtyRig(serial: string, kind: BrokerKind): PtyRig {
  const rig = { serial } as PtyRig & { serial: string; bridges: BridgeProcess[] };
  rig.bridges = [];
  beforeAll(async () => {
    rig.dir = mkdtempSync(join(tmpdir(), 'hcp-pty-'));
    rig.broker = await kind.start();
    rig.province = await ProvinceEmulator.start({ url: rig.broker.url });
    rig.line = await PtyLine.start();
    rig.terminal = await VirtualTerminal.start({
      devicePath: rig.line.devicePath,
      serial,
      openPort: (path) => new SerialPort({ path, baudRate: 115200, autoOpen: false }),
    });
  });
  afterAll(async () => {
    const steps: Array<() => Promise<unknown> | undefined> = [
      ...rig.bridges.map((b) => () => b.stop()),
      () => rig.terminal?.stop(),
      () => rig.line?.stop(),
      () => rig.province?.stop(),
      () => rig.broker?.stop(),
    ];
    for (const step of steps) await Promise.resolve(step()).catch((err: unknown) => console.error('cleanup:', err));
    if (rig.dir) rmSync(rig.dir, { recursive: true, force: true });
  });
  rig.startBridge = async (terminalId, mqtt = {}) => {
    const bridge = await BridgeProcess.start({
      config: {
        terminal: { id: terminalId, areaCode: '330106', hallCode: '330106-ZWFW-01', windowNo: 'P01' },
        serial: { path: rig.line.bridgePath },
        mqtt: { url: rig.broker.url, ...mqtt },
        database: { path: join(rig.dir, `${terminalId}.db`) },
        // The test machine's clock is right; `ntp` would hold records until the OS reports a sync.
        clock: { trust: 'system' },
      },
    });
    rig.bridges.push(bridge);
    return bridge;
  };
  rig.linked = (s) => s.link.alive && s.link.terminal?.serial === serial && s.broker.connected;
  return rig;
}
