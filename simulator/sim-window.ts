import { SerialPortStream } from '@serialport/stream';
import { Bridge, type BridgeDeps } from '../bridge/bridge.js';
import { parseConfig, type BridgeConfigInput } from '../bridge/config.js';
import type { SerialPortLike } from '../bridge/device/device-link.js';
import { createVirtualLine, virtualSerialBinding, type VirtualLine } from './virtual-serial-line.js';
import { VirtualTerminal } from './virtual-terminal.js';
import { waitUntil } from './wait.js';

export interface SimWindowOptions {
  brokerUrl: string;
  windowNo: string;
  terminalId: string;
  dbPath: string;
  areaCode?: string;
  hallCode?: string;
  hallName?: string;
  httpPort?: number;
  /** Any further bridge config (invitation timeouts, grade profile, …). */
  config?: Partial<Omit<BridgeConfigInput, 'terminal' | 'serial' | 'database'>>;
  bridgeDeps?: Omit<BridgeDeps, 'openPort'>;
}

/** One simulated service window: a virtual terminal wired by a virtual cable to a real bridge. */
export class SimWindow {
  private constructor(
    readonly windowNo: string,
    readonly terminalId: string,
    readonly line: VirtualLine,
    readonly terminal: VirtualTerminal,
    readonly bridge: Bridge,
  ) {}

  static async start(opts: SimWindowOptions): Promise<SimWindow> {
    const line = createVirtualLine(opts.terminalId);
    const terminal = await VirtualTerminal.start({ devicePath: line.devicePath, serial: `SIM-${opts.terminalId}` });
    const config = parseConfig({
      ...opts.config,
      terminal: {
        id: opts.terminalId,
        areaCode: opts.areaCode ?? '330106',
        hallCode: opts.hallCode ?? 'SIM-HALL',
        hallName: opts.hallName ?? '模拟政务服务大厅',
        windowNo: opts.windowNo,
      },
      serial: { path: line.bridgePath },
      database: { path: opts.dbPath },
      mqtt: { url: opts.brokerUrl, ...opts.config?.mqtt },
      // The simulator's machine clock is good; the clock-honesty tests say otherwise explicitly.
      clock: { trust: 'system', ...opts.config?.clock },
      http: { host: '127.0.0.1', port: opts.httpPort ?? 0 },
    });
    const bridge = await Bridge.start(config, {
      ...opts.bridgeDeps,
      openPort: (path, baudRate) =>
        new SerialPortStream({ binding: virtualSerialBinding, path, baudRate, autoOpen: false }) as SerialPortLike,
    });
    const window = new SimWindow(opts.windowNo, opts.terminalId, line, terminal, bridge);
    await window.ready();
    return window;
  }

  /** Resolves once the bridge hears the terminal and is connected to the broker. */
  async ready(timeoutMs = 10_000): Promise<void> {
    await waitUntil(() => {
      const { device, broker } = this.bridge.status();
      return device.alive && device.device && broker.connected;
    }, `window ${this.windowNo}: terminal hello and broker connection`, { timeoutMs });
  }

  /** Calls the bridge's HTTP API as the window PC would. */
  // JSON from our own API; callers assert on its shape.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.bridge.httpUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  async stop(): Promise<void> {
    await this.bridge.stop();
    await this.terminal.stop();
  }
}
