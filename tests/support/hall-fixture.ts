import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { UpstreamRecord } from '../../protocol/records.js';
import { ProvinceEmulator, type ProvinceEmulatorOptions } from '../../simulator/province.js';
import { SimWindow, type SimWindowOptions } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import type { BrokerKind, TestBroker } from './brokers.js';

/** A broker URL, a province on it, and windows made on demand; everything torn down by close(). */
export class HallFixture {
  private readonly windows: SimWindow[] = [];
  private count = 0;
  readonly dir = mkdtempSync(join(tmpdir(), 'hcp-test-'));

  private constructor(
    readonly brokerUrl: string,
    readonly province: ProvinceEmulator,
  ) {}

  static async start(brokerUrl: string, province: Omit<ProvinceEmulatorOptions, 'url'> = {}): Promise<HallFixture> {
    return new HallFixture(brokerUrl, await ProvinceEmulator.start({ url: brokerUrl, ...province }));
  }

  /** A window with a staff member signed in. `brokerUrl` may point at a proxy in front of the broker. */
  async window(options: { config?: SimWindowOptions['config']; brokerUrl?: string; bridgeDeps?: SimWindowOptions['bridgeDeps']; waitForBroker?: boolean; printer?: SimWindowOptions['printer'] } = {}): Promise<SimWindow> {
    this.count += 1;
    const n = this.count;
    // A folder per window: its key (which seals its records) and pairing live beside its database, one terminal's each.
    const windowDir = join(this.dir, `w${n}`);
    mkdirSync(windowDir);
    const window = await SimWindow.start({
      brokerUrl: options.brokerUrl ?? this.brokerUrl,
      windowNo: `F${n}`,
      terminalId: `FT-${process.pid}-${n}-${Math.random().toString(36).slice(2, 6)}`,
      dbPath: join(windowDir, 'hcp.db'),
      config: options.config ?? {},
      ...(options.bridgeDeps && { bridgeDeps: options.bridgeDeps }),
      ...(options.waitForBroker === false && { waitForBroker: false }),
      ...(options.printer && { printer: options.printer }),
    });
    this.windows.push(window);
    await window.api('POST', '/api/v1/staff/sign-in', { staffId: `S${n}` });
    return window;
  }

  /** Serves one citizen: invites for a case and (unless grade is null) presses that button. */
  async serve(window: SimWindow, caseNo: string, button: number | null): Promise<string> {
    const id = await window.invite({ services: [{ itemCode: '330106-XK-0012', caseNo }] });
    await waitUntil(() => window.terminal.core.state === 'invited', `the terminal to show invitation ${id}`);
    if (button !== null) await window.terminal.press(button);
    return id;
  }

  /** Waits until the province holds every id, then checks each arrived exactly once. */
  async expectExactlyOnce(window: SimWindow, ids: readonly string[], timeoutMs = 20_000): Promise<UpstreamRecord[]> {
    // One pass over the window's records per check: a week's backlog is thousands of them.
    const arrived = (): boolean => {
      const have = new Set(this.province.recordsOf(window.terminalId).map((r) => r.id));
      return ids.every((id) => have.has(id));
    };
    await this.province.waitFor(arrived, { timeoutMs });
    const records = this.province.recordsOf(window.terminalId);
    for (const id of ids) {
      const copies = records.filter((r) => r.id === id).length;
      if (copies !== 1) throw new Error(`record ${id} arrived ${copies} times`);
    }
    return ids.map((id) => records.find((r) => r.id === id) as UpstreamRecord);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.windows.map((w) => w.stop()));
    await this.province.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * For a describe block: one broker of the given kind for the block, a fresh hall per test
 * (`await halls.start()`), everything closed after each test and at the end.
 */
export function useHall(kind: BrokerKind): { start(province?: Omit<ProvinceEmulatorOptions, 'url'>): Promise<HallFixture> } {
  let broker: TestBroker | undefined;
  let current: HallFixture | undefined;
  beforeAll(async () => {
    broker = await kind.start();
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  afterAll(async () => {
    await broker?.stop();
  });
  return {
    start: async (province = {}) => {
      if (!broker) throw new Error('useHall: the broker is not running (call start() inside a test)');
      current = await HallFixture.start(broker.url, province);
      return current;
    },
  };
}

/**
 * Quick reconnects, and a short ack timeout, for a window's mqtt config in fault tests: a record
 * published while the province is not subscribed (it reconnects after a broker restart too) is
 * dropped by the broker, and only the missing application ack brings it back.
 */
export const FAST_RECONNECT = { reconnectMinSeconds: 0.1, reconnectMaxSeconds: 0.5, keepaliveSeconds: 2, ackTimeoutSeconds: 1 };
