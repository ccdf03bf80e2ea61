import BetterSqlite from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { v7 as uuidv7 } from 'uuid';
import { silentLogger } from '../../bridge/log.js';
import { parseGatewayConfig, type GatewayConfigInput } from '../../gateway/config.js';
import type { Database } from '../../gateway/db/database.js';
import { Gateway, type GatewayDeps } from '../../gateway/gateway.js';
import { ackSchema, type Ack } from '../../protocol/acks.js';
import type { StoredEvent } from '../../protocol/records.js';
import { DEFAULT_TOPIC_PREFIX, terminalTopics } from '../../protocol/topics.js';
import { SimWindow, type SimWindowOptions } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { FAST_RECONNECT } from './hall-fixture.js';
import { strayPress } from './stray-press.js';

/**
 * Real bridges (each with its virtual terminal) publishing to a broker where no province emulator
 * listens: what reaches the database is only what a gateway took from the broker. Plus what the
 * gateway suites check of it: every record of every outbox once in `records`, every outbox drained.
 */

/** A bridge's mqtt settings for these suites: quick reconnects, and records unacknowledged after half a second published again. */
export const GATEWAY_TEST_UPLINK = { ...FAST_RECONNECT, ackTimeoutSeconds: 0.5 };

/** A gateway config for a test: one instance name, a broker, a database; the admin API on a free loopback port. */
export function gatewayConfig(
  input: { instance: string; brokerUrl: string; database: GatewayConfigInput['database']; mqtt?: Partial<GatewayConfigInput['mqtt']> } & Partial<Omit<GatewayConfigInput, 'instance' | 'database' | 'mqtt'>>,
): GatewayConfigInput {
  const { instance, brokerUrl, database, mqtt, ...rest } = input;
  return { instance, database, http: { port: 0 }, ...rest, mqtt: { url: brokerUrl, ...mqtt } };
}

/** A gateway in this process (stopped by the caller); silent unless given a logger. */
export function startGateway(config: GatewayConfigInput, deps: Partial<GatewayDeps> = {}): Promise<Gateway> {
  return Gateway.start(parseGatewayConfig(config, `test gateway ${config.instance ?? ''}`), { logger: silentLogger, ...deps });
}

/**
 * Resolves with the first truthy value of an asynchronous `check` (a query), re-checked every
 * 20 ms; rejects naming `what`, and the last error if the check threw, after the timeout.
 */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, what: string, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = ` (last check failed: ${(err as Error).message})`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One row of a bridge's outbox, read from its own database file. */
export interface OutboxRow {
  id: string;
  state: 'pending' | 'acked' | 'quarantined';
}

export class GatewayWindows {
  readonly dir = mkdtempSync(join(tmpdir(), 'hcp-gateway-test-'));
  readonly windows: SimWindow[] = [];
  /** Windows asked for so far (several may start at once). */
  #made = 0;

  constructor(readonly brokerUrl: string) {}

  /** A window whose bridge publishes to the broker (GATEWAY_TEST_UPLINK unless `config.mqtt` says otherwise), a staff member signed in. */
  async window(options: { config?: SimWindowOptions['config']; waitForBroker?: boolean } = {}): Promise<SimWindow> {
    const n = ++this.#made;
    const windowDir = join(this.dir, `w${n}`);
    mkdirSync(windowDir);
    const config = options.config ?? {};
    const window = await SimWindow.start({
      brokerUrl: this.brokerUrl,
      windowNo: `G${n}`,
      terminalId: `GT-${process.pid}-${n}-${Math.random().toString(36).slice(2, 6)}`,
      dbPath: join(windowDir, 'hcp.db'),
      config: { ...config, mqtt: { url: this.brokerUrl, ...GATEWAY_TEST_UPLINK, ...config.mqtt } },
      ...(options.waitForBroker === false && { waitForBroker: false }),
    });
    this.windows.push(window);
    await window.api('POST', '/api/v1/staff/sign-in', { staffId: `S${n}` });
    return window;
  }

  /** Serves one citizen at `window`: invites, the citizen presses `button`; resolves once the rating is stored. */
  async serve(window: SimWindow, caseNo: string, button: number): Promise<string> {
    const id = await window.invite({ services: [{ itemCode: '330106-XK-0012', caseNo }] });
    await waitUntil(() => window.terminal.core.state === 'invited', `the terminal to show invitation ${id}`);
    await window.terminal.press(button);
    await waitUntil(() => window.bridge.desk.current() === undefined && window.bridge.outbox.get(id) !== undefined, `rating ${id} to be stored`);
    return id;
  }

  /**
   * `count` stray presses stored in the window's outbox as its bridge stores one the terminal
   * reports (sealed with its key at commit; the uplink publishes them as they are appended): many
   * records in milliseconds, without a citizen per record. Returns their ids.
   */
  strayPresses(window: SimWindow, count: number): string[] {
    const { terminal } = window.bridge.config;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = uuidv7();
      const event: StoredEvent = {
        ...strayPress(id),
        terminalId: terminal.id,
        areaCode: terminal.areaCode,
        hallCode: terminal.hallCode,
        windowNo: terminal.windowNo,
        at: new Date().toISOString(),
        detail: { grade: 'satisfied', device: `SIM-${terminal.id}` },
        clock: { synced: true, bootId: 'gateway-test', monoMs: i },
      };
      if (!window.bridge.outbox.append(event)) throw new Error(`the outbox of ${terminal.id} did not take stray press ${id}`);
      ids.push(id);
    }
    return ids;
  }

  /** Every row of the window's outbox, from its database file (as someone with sqlite3 on the Pi would see it). */
  outbox(window: SimWindow): OutboxRow[] {
    const db = new BetterSqlite(window.bridge.config.database.path, { readonly: true });
    try {
      return db.prepare(`SELECT id, state FROM records ORDER BY seq`).all() as OutboxRow[];
    } finally {
      db.close();
    }
  }

  /** Resolves once no window has a record waiting for its ack. */
  async drained(timeoutMs = 20_000): Promise<void> {
    await waitUntil(() => this.windows.every((w) => w.bridge.outbox.stats().pending === 0), 'every outbox to drain', { timeoutMs });
  }

  /**
   * The gateway suites' promise: every outbox drained, and each record of each outbox (all acked,
   * none quarantined) stored in `records` exactly once, under its terminal. Throws naming what differs.
   */
  async expectEveryRecordOnce(db: Database, timeoutMs = 20_000): Promise<{ records: number }> {
    await this.drained(timeoutMs);
    let total = 0;
    for (const window of this.windows) {
      const outbox = this.outbox(window);
      const notAcked = outbox.filter((row) => row.state !== 'acked');
      if (notAcked.length > 0) throw new Error(`${window.terminalId}: ${notAcked.length} outbox records not acked: ${JSON.stringify(notAcked.slice(0, 5))}`);
      const { rows } = await db.query<{ id: string; copies: number }>(
        `SELECT id::text AS id, count(*)::int AS copies FROM records WHERE terminal_id = $1 GROUP BY id`,
        [window.terminalId],
      );
      const stored = new Map(rows.map((row) => [row.id, row.copies]));
      const missing = outbox.filter((row) => !stored.has(row.id)).map((row) => row.id);
      const extra = [...stored.keys()].filter((id) => !outbox.some((row) => row.id === id));
      const twice = rows.filter((row) => row.copies !== 1);
      if (missing.length > 0 || extra.length > 0 || twice.length > 0) {
        throw new Error(`${window.terminalId}: ${outbox.length} in the outbox, ${rows.length} stored; missing ${JSON.stringify(missing.slice(0, 5))}, not in the outbox ${JSON.stringify(extra.slice(0, 5))}, not once ${JSON.stringify(twice.slice(0, 5))}`);
      }
      total += rows.length;
    }
    return { records: total };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.windows.map((w) => w.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A client of the broker as anyone with an account on it: publishes on any terminal's topics,
 * and hears every ack the gateway sends (`<prefix>/+/acks`), parsed, per terminal.
 */
export class BrokerClient {
  readonly acks: Array<Ack & { terminalId: string }> = [];

  private constructor(
    private readonly client: MqttClient,
    readonly prefix: string,
  ) {}

  static async connect(brokerUrl: string, prefix = DEFAULT_TOPIC_PREFIX): Promise<BrokerClient> {
    const client = await connectAsync(brokerUrl, { protocolVersion: 5, reconnectPeriod: 200 });
    client.on('error', () => undefined);
    const watcher = new BrokerClient(client, prefix);
    client.on('message', (topic, payload) => {
      const terminalId = topic.slice(prefix.length + 1).split('/')[0] ?? '';
      let body: unknown;
      try {
        body = JSON.parse(payload.toString());
      } catch {
        return; // not an ack: nothing the gateway sends
      }
      const ack = ackSchema.safeParse(body);
      if (ack.success) watcher.acks.push({ ...ack.data, terminalId });
    });
    await client.subscribeAsync(`${prefix}/+/acks`, { qos: 1 });
    return watcher;
  }

  /** Publishes on `terminalId`'s records topic, QoS 1 (resolves once the broker has it). */
  async publishRecord(terminalId: string, payload: string | Buffer): Promise<void> {
    await this.client.publishAsync(terminalTopics(terminalId, this.prefix).records, payload, { qos: 1 });
  }

  /** The acks heard for `id`. */
  acksOf(id: string): Array<Ack & { terminalId: string }> {
    return this.acks.filter((ack) => ack.ids.includes(id));
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
