import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ack } from '../protocol/acks.js';
import type { LinkRejectReason } from '../protocol/link.js';
import type { OpenInvitation } from '../bridge/desk/invitation-desk.js';
import type { StoredEvent, StoredInvitation } from '../protocol/records.js';
import type { Logger } from '../bridge/log.js';
import { ConfigError } from '../bridge/config.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { Gateway } from '../gateway/gateway.js';
import type { ProvinceProfileInput } from '../gateway/province/profile.js';
import { silentLogger } from '../bridge/log.js';
import { EmbeddedBroker } from './broker.js';
import { freePort } from './free-port.js';
import { createDemoAccounts, startHallAlerts, type DemoAccount, type HallAlerts } from './hall-dashboard.js';
import { startHallProvince, type HallProvince } from './hall-province.js';
import { SAMPLE_PROVINCE_CONFIG } from './province.js';
import { seededRandom } from './random.js';
import type { PrintedReceipt } from './printed-receipt.js';
import { samplePhoto } from './sample-photo.js';
import { SAMPLE_STAFF_PIN, SAMPLE_STAFF_ROSTER } from './sample-staff.js';
import { SimWindow } from './sim-window.js';
import { silentSynthesizer, SpokenLog } from './spoken-log.js';
import { runWindowTraffic, type CitizenProfile } from './traffic.js';
import { waitUntil } from './wait.js';

export interface HallOptions {
  windows: number;
  /** Folder for the bridges' databases (one file per window). */
  dataDir: string;
  seed?: number;
  timeoutSeconds?: number;
  brokerPort?: number;
  /** HTTP port of window 1; window n listens on port + n - 1. 0: any free port. */
  httpPort?: number;
  /** The province emulator's port (default any free one). */
  provincePort?: number;
  /** The province's profile (default the simulated province's: simulator/hall-province.ts); its endpoints, keys and pace are the hall's. */
  provinceProfile?: ProvinceProfileInput;
  /** The rate-later page's port, behind the receipts' QR codes (default any free one). */
  rateLaterPort?: number;
  /** The managers' dashboard's port (default any free one). */
  dashboardPort?: number;
  /** The customer screen of window 1; window n's on port + n - 1. Default: any free ports. */
  screenPort?: number;
  /** Terminal ids are <prefix>-W01…; default SIM (a process holds each virtual line once: two halls need two prefixes). */
  terminalPrefix?: string;
  /** Run the scripted staff and citizens (default true). */
  traffic?: boolean;
  citizens?: CitizenProfile;
  logger?: Logger;
}

/** Everything that happens in the hall, for a live view. */
export type HallActivity =
  | { kind: 'invited'; windowNo: string; invitation: OpenInvitation }
  | { kind: 'closed'; windowNo: string; record: StoredInvitation }
  | { kind: 'event'; windowNo: string; event: StoredEvent }
  | { kind: 'acked'; windowNo: string; ack: Ack }
  | { kind: 'printed'; windowNo: string; receipt: PrintedReceipt }
  | { kind: 'frameRejected'; windowNo: string; reason: LinkRejectReason; detail: string }
  | { kind: 'broker'; windowNo: string; state: 'connected' | 'disconnected' }
  /** A voice prompt, as the citizen would hear it (the simulated loudspeaker: simulator/spoken-log.ts). */
  | { kind: 'said'; windowNo: string; words: string };

/**
 * A simulated service hall: N windows, an embedded broker and the gateway on the embedded
 * database (PGlite, in the data folder), which registers each terminal on its first key, sends
 * it the reason catalogue and staff roster, stores and acknowledges its records, delivers them to
 * the province emulator's HTTP interface, and serves the rate-later page the receipts lead to and
 * the managers' dashboard (demo accounts per level, listed in dashboard-accounts.txt), whose
 * alerts go to a local receiver speaking as WeCom and DingTalk robots and a webhook.
 */
export class SimulatedHall extends EventEmitter<{ activity: [HallActivity] }> {
  private readonly abort = new AbortController();
  private traffic: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly broker: EmbeddedBroker,
    readonly province: HallProvince,
    readonly gateway: Gateway,
    readonly windows: SimWindow[],
    /** Where the hall's alerts arrive (the robots' stand-in). */
    readonly alerts: HallAlerts['receiver'],
    /** The dashboard's demo accounts, and the owner-only file that lists them. */
    readonly dashboardAccounts: { accounts: DemoAccount[]; file: string },
  ) {
    super();
    for (const window of windows) this.relay(window);
  }

  static async start(options: HallOptions): Promise<SimulatedHall> {
    const broker = await EmbeddedBroker.start({ port: options.brokerPort ?? 0 });
    let province: HallProvince | undefined;
    let alerts: HallAlerts | undefined;
    let gateway: Gateway | undefined;
    try {
      province = await startHallProvince(options.dataDir, { port: options.provincePort ?? 0, ...(options.provinceProfile && { profile: options.provinceProfile }) });
      alerts = await startHallAlerts(options.dataDir);
      for (let attempt = 1; gateway === undefined; attempt++) {
        // The page's address is in every receipt's QR code, the dashboard's in every alert message:
        // both known before the gateway starts, so their ports are picked here; one another program
        // took meanwhile (tests run side by side) means picking again.
        const rateLaterUrl = `http://127.0.0.1:${options.rateLaterPort || (await freePort())}/rate`;
        const dashboardUrl = `http://127.0.0.1:${options.dashboardPort || (await freePort())}/`;
        try {
          gateway = await startHallGateway(
            { brokerUrl: broker.url, dataDir: options.dataDir, profileFile: province.profileFile, rateLaterUrl, dashboardUrl, alertChannels: alerts.channels },
            options.logger,
          );
        } catch (err) {
          const picked = !options.rateLaterPort || !options.dashboardPort;
          if (!(picked && attempt < 5 && err instanceof ConfigError && err.message.includes('is in use'))) throw err;
        }
      }
    } catch (err) {
      await alerts?.receiver.stop();
      await province?.stop();
      await broker.stop();
      throw err;
    }
    // The loop ends with a gateway or throws: its rate-later page is where the receipts lead.
    const rateLaterUrl = gateway.config.rateLater!.publicUrl;
    const windows: SimWindow[] = [];
    // What the windows' loudspeakers say, relayed once the hall exists (its first words come before).
    const speakTo: { hall?: SimulatedHall } = {};
    const accountsFile = join(options.dataDir, 'dashboard-accounts.txt');
    let accounts: DemoAccount[];
    try {
      for (let n = 1; n <= options.windows; n++) {
        const windowNo = `W${String(n).padStart(2, '0')}`;
        // A folder per window: its key (terminal-key.pem, which seals its records) lives beside its database.
        const windowDir = join(options.dataDir, windowNo);
        mkdirSync(windowDir, { recursive: true });
        windows.push(
          await SimWindow.start({
            brokerUrl: broker.url,
            windowNo,
            terminalId: `${options.terminalPrefix ?? 'SIM'}-${windowNo}`,
            dbPath: join(windowDir, 'hcp.db'),
            httpPort: options.httpPort ? options.httpPort + n - 1 : 0,
            // The scripted citizens think 0.6-3 s: some presses are fast enough to be flagged.
            config: {
              invitation: { timeoutSeconds: options.timeoutSeconds ?? 12, deviceGraceSeconds: 5, flags: { minPressMs: 800 } },
              http: { allowUnverifiedStaff: false },
              // The screen facing the citizen, served by the window's bridge (docs/customer-screen.md).
              screen: { host: '127.0.0.1', port: options.screenPort ? options.screenPort + n - 1 : await freePort() },
              // Voice prompts, on a loudspeaker that writes what it says into the activity log.
              voice: { output: 'alsa', cacheDir: join(options.dataDir, 'voice-prompts') },
            },
            // A receipt with the QR for rating later, when nobody rated at the counter.
            printer: { print: 'not_rated', evaluationUrl: rateLaterUrl },
            bridgeDeps: {
              ...(options.logger && { logger: options.logger }),
              voice: { player: new SpokenLog((words) => speakTo.hall?.emit('activity', { kind: 'said', windowNo, words })), synthesizer: silentSynthesizer },
            },
          }),
        );
      }
      // The gateway approves each terminal's first key and sends it the roster: staff can sign in from here on.
      await Promise.all(windows.map((w) => waitUntil(() => w.bridge.status().staffSignIn.roster, `the staff roster at ${w.windowNo}`, { timeoutMs: 10_000 })));
      const { areaCode, hallCode } = windows[0]!.bridge.config.terminal;
      accounts = await createDemoAccounts(gateway.db, { areaCode, hallCode }, accountsFile);
    } catch (err) {
      await Promise.allSettled(windows.map((w) => w.stop()));
      await gateway.stop();
      await alerts.receiver.stop();
      await province.stop();
      await broker.stop();
      throw err;
    }
    const hall = (speakTo.hall = new SimulatedHall(broker, province, gateway, windows, alerts.receiver, { accounts, file: accountsFile }));
    if (options.traffic ?? true) hall.startTraffic(options.seed ?? 1, options.citizens);
    return hall;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.traffic;
    await Promise.allSettled(this.windows.map((w) => w.stop()));
    await this.gateway.stop();
    await this.alerts.stop();
    await this.province.stop();
    await this.broker.stop();
  }

  private startTraffic(seed: number, citizens?: CitizenProfile): void {
    this.traffic = Promise.allSettled(
      this.windows.map((window, i) =>
        runWindowTraffic(window, {
          random: seededRandom(seed * 1000 + i),
          staffId: SAMPLE_STAFF_ROSTER.staff[i]!.staffId,
          pin: SAMPLE_STAFF_PIN,
          signal: this.abort.signal,
          ...(citizens && { citizens }),
        }),
      ),
    );
  }

  private relay(window: SimWindow): void {
    const { windowNo, bridge } = window;
    const emit = (activity: HallActivity): boolean => this.emit('activity', activity);
    window.printer?.on('receipt', (receipt) => emit({ kind: 'printed', windowNo, receipt }));
    bridge.on('invitation', (invitation) => emit({ kind: 'invited', windowNo, invitation }));
    bridge.on('closed', (record) => emit({ kind: 'closed', windowNo, record }));
    bridge.on('event', (event) => emit({ kind: 'event', windowNo, event }));
    bridge.on('acked', (ack) => emit({ kind: 'acked', windowNo, ack }));
    bridge.on('frameRejected', (reason, detail) => emit({ kind: 'frameRejected', windowNo, reason, detail }));
    bridge.on('broker', (state) => emit({ kind: 'broker', windowNo, state }));
  }
}

/**
 * The hall's gateway: one instance on the embedded broker (no shared subscriptions there: MQTT
 * 3.1.1, a plain subscription), PGlite in the data folder, terminals approved on their first key
 * (a demo has no operator), the sample reason catalogue and staff roster for each, the admin API
 * on a free loopback port, delivery to the province emulator, the rate-later page and the
 * dashboard on loopback, alerts to the hall's receiver.
 */
async function startHallGateway(
  where: { brokerUrl: string; dataDir: string; profileFile: string; rateLaterUrl: string; dashboardUrl: string; alertChannels: HallAlerts['channels'] },
  logger: Logger | undefined,
): Promise<Gateway> {
  const staffRosterFile = join(where.dataDir, 'staff-roster.json');
  // The first staff (those the windows' scripts sign in) with a title and a made-up photo for their staff cards.
  const staff = SAMPLE_STAFF_ROSTER.staff.map((member, i) => (i < 10 ? { ...member, title: '综合受理窗口', photo: samplePhoto(200 + i * 40) } : member));
  writeFileSync(staffRosterFile, JSON.stringify({ ...SAMPLE_STAFF_ROSTER, staff }));
  const config = parseGatewayConfig({
    instance: 'hall-gateway',
    mqtt: { url: where.brokerUrl, protocolVersion: 4, sharedGroup: null },
    database: { dataDir: join(where.dataDir, 'gateway-db') },
    terminals: { approval: 'first-key', config: { reasonCatalog: SAMPLE_PROVINCE_CONFIG.reasonCatalog, staffRosterFile } },
    http: { port: 0 },
    province: { profileFile: where.profileFile },
    rateLater: { host: '127.0.0.1', port: Number(new URL(where.rateLaterUrl).port), publicUrl: where.rateLaterUrl },
    dashboard: { host: '127.0.0.1', port: Number(new URL(where.dashboardUrl).port), publicUrl: where.dashboardUrl },
    // A demo's faults are seen within a minute, and an unacknowledged alert comes again after a minute.
    alerts: { channels: where.alertChannels, repeatMinutes: 1, maxRepeats: 3, faults: { offlineMinutes: 1 } },
    // A demo's staff earn their stars on the customer screen within minutes.
    staffStars: { minRatings: 3, refreshMinutes: 5 },
  });
  return Gateway.start(config, { logger: logger ?? silentLogger });
}
