import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import { FIRMWARE_VERSION } from '../firmware/core/terminal-core.js';
import type { Ack } from '../protocol/acks.js';
import type { Alarm } from '../protocol/alarms.js';
import type { ReasonCatalog } from '../protocol/province-config.js';
import type { Command, CommandResult } from '../protocol/commands.js';
import type { LinkRejectReason } from '../protocol/link.js';
import { hostTimers, type Timers } from '../protocol/timers.js';
import { SERIAL_PROTOCOL_VERSION } from '../protocol/serial-messages.js';
import { osBootId } from './clock.js';
import { ConfigError, terminalPort, type BridgeConfig } from './config.js';
import { updateConfigFile } from './config-file.js';
import { DeviceLink, type DeviceInfo, type DeviceLinkStatus, type OpenSerialPort } from './device/device-link.js';
import { DeskError, InvitationDesk, type OpenInvitation } from './desk/invitation-desk.js';
import { dailyStats } from './desk/daily-stats.js';
import { createApiServer } from './http/api.js';
import { silentLogger, type Logger } from './log.js';
import { openDatabase, type Db } from './store/database.js';
import { OpenInvitationStore } from './store/open-invitation-store.js';
import { Outbox, type OutboxCounts, type QuarantinedEntry } from './store/outbox.js';
import { Settings } from './store/settings.js';
import { storageStatus, type StorageStatus } from './store/storage.js';
import type { StoredEvent, StoredInvitation } from './store/stored-record.js';
import { nextEvent } from './selftest/next-event.js';
import { runSelftest, type SelftestIO, type SelftestParts, type SelftestReport, type SelftestTimeouts, type StepResult } from './selftest/selftest.js';
import { TimeKeeper } from './time/time-keeper.js';
import { systemWall, type WallSource } from './time/wall-source.js';
import { Uplink, type UplinkStatus } from './uplink/uplink.js';
import { readTlsFiles } from './uplink/tls-files.js';
import { PrinterLink, type PrinterCondition } from './printer/printer-link.js';
import { ReceiptQueue } from './printer/receipt-queue.js';
import { ReceiptService, type ReceiptStatus } from './printer/receipt-service.js';
import { loadOrCreateSigningKey, publicKeyText, terminalKeyFile } from './printer/receipt-token.js';

export const BRIDGE_VERSION = '0.1.0';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
const REASON_CATALOG_KEY = 'province.reasonCatalog';

const PRINTER_ALARMS: Partial<Record<PrinterCondition, Alarm>> = {
  offline: 'printer_offline',
  disconnected: 'printer_offline',
  paper_out: 'printer_paper_out',
  paper_low: 'printer_paper_low',
  cover_open: 'printer_cover_open',
};
const DAY_MS = 24 * 60 * 60 * 1000;

/** What touches the world, injected so that the simulator and tests can drive it. */
export interface BridgeDeps {
  openPort: OpenSerialPort;
  /** The machine's clocks; a test jumps the wall clock through this. */
  wall?: WallSource;
  bootId?: string;
  timers?: Timers;
  newId?: () => string;
  random?: () => number;
  logger?: Logger;
  /** Serial link timing; defaults suit a real line. */
  linkTiming?: { resendMs?: number; maxResendMs?: number; heartbeatMs?: number };
  /** The config file the bridge was started from: the province's `update-config` edits it. */
  configFile?: string;
}


export interface BridgeStatus {
  terminal: { id: string; areaCode: string; hallCode: string; hallName: string | null; windowNo: string };
  alarms: Alarm[];
  staffId: string | null;
  invitation: OpenInvitation | null;
  device: DeviceLinkStatus;
  broker: UplinkStatus;
  backlog: OutboxCounts & { oldestPendingAgeMs: number | null; recentlyQuarantined: QuarantinedEntry[] };
  clock: { synced: boolean; trustedFrom: string | null; bootId: string; now: string };
  storage: StorageStatus;
  /** The province's bad-review reason catalogue in use, if it has sent one. */
  reasonCatalog: { version: string; reasons: number } | null;
  printer: (ReceiptStatus & { configured: true; publicKey: string }) | { configured: false };
  http: { rejected: Record<string, number> };
  versions: Record<string, string>;
}

export type BridgeEvents = {
  invitation: [OpenInvitation];
  closed: [StoredInvitation];
  event: [StoredEvent];
  acked: [Ack];
  printed: [{ id: string; invitationId: string }];
  device: [DeviceInfo];
  frameRejected: [LinkRejectReason, string];
  broker: ['connected' | 'disconnected'];
  /** The config file changed (update-config): whoever started the bridge restarts it. */
  restartRequested: [string];
};

/** One window's bridge: serial link to the terminal, invitation desk, outbox, uplink, HTTP API. */
export class Bridge extends EventEmitter<BridgeEvents> {
  readonly desk: InvitationDesk;
  readonly outbox: Outbox;
  readonly clock: TimeKeeper;
  private readonly device: DeviceLink;
  private readonly uplink: Uplink;
  /** The receipt printer, when one is configured. */
  readonly receipts: ReceiptService | undefined;
  private readonly publicKey: string | undefined;
  private readonly server: Server;
  private readonly logger: Logger;
  private readonly httpRejected: Record<string, number> = {};
  private readonly settings: Settings;
  private readonly housekeeping: NodeJS.Timeout[] = [];
  private selftestRunning = false;
  private readonly newId: () => string;
  private readonly configFile: string | undefined;
  private readonly versions = {
    bridge: BRIDGE_VERSION,
    protocol: String(SERIAL_PROTOCOL_VERSION),
    expectedFirmware: FIRMWARE_VERSION,
  };

  private constructor(
    readonly config: BridgeConfig,
    private readonly db: Db,
    deps: BridgeDeps,
  ) {
    super();
    const clock = new TimeKeeper(deps.wall ?? systemWall, deps.bootId ?? osBootId(), config.clock.trust);
    this.clock = clock;
    const logger = deps.logger ?? silentLogger;
    this.logger = logger;
    this.newId = deps.newId ?? (() => uuidv7());
    this.configFile = deps.configFile;
    const { terminal, mqtt } = config;
    this.outbox = new Outbox(db, clock);
    const settings = new Settings(db);
    this.settings = settings;
    this.device = new DeviceLink({
      ...terminalPort(config),
      openPort: deps.openPort,
      timers: deps.timers ?? hostTimers,
      // Per process, unlike the clock's boot id: a restarted bridge numbers its frames from 1
      // again, and the terminal must see a new peer, not resends.
      bootId: randomBytes(8).toString('hex'),
      logger,
      link: deps.linkTiming,
      onReport: (report, device) => this.desk.onDeviceReport(report, device),
    });
    this.desk = new InvitationDesk({
      identity: { terminalId: terminal.id, areaCode: terminal.areaCode, hallCode: terminal.hallCode, windowNo: terminal.windowNo },
      outbox: this.outbox,
      openStore: new OpenInvitationStore<OpenInvitation>(db),
      transaction: (fn) => db.transaction(fn)(),
      settings,
      clock,
      newId: this.newId,
      logger,
      timeoutMs: config.invitation.timeoutSeconds * 1000,
      graceMs: config.invitation.deviceGraceSeconds * 1000,
      honesty: {
        minPressMs: config.invitation.flags.minPressMs,
        strayWindowMs: config.invitation.flags.strayWindowSeconds * 1000,
        burstCount: config.invitation.flags.burstCount,
        burstWindowMs: config.invitation.flags.burstWindowMinutes * 60_000,
      },
      deviceReady: () => this.device.status().alive,
      storageFull: () => this.storage().full,
      selfTesting: () => this.selftestRunning,
      sendInvite: (inv, timeoutMs, reasons, reasonTimeoutMs) => this.device.send({ type: 'invite', inv, timeoutMs, reasons, reasonTimeoutMs }),
      reasonCatalog: () => this.reasonCatalog(),
      reasonTimeoutMs: config.invitation.reasonTimeoutSeconds * 1000,
      sendCancel: (inv) => this.device.send({ type: 'cancel', inv }),
    });
    this.uplink = new Uplink({
      url: mqtt.url,
      username: mqtt.username,
      password: mqtt.password,
      tls: readTlsFiles(mqtt.tls),
      clientId: mqtt.clientId ?? `hcp-${terminal.id}`,
      terminalId: terminal.id,
      topicPrefix: mqtt.topicPrefix,
      gradeProfile: mqtt.gradeProfile,
      inflight: mqtt.inflight,
      ackTimeoutMs: mqtt.ackTimeoutSeconds * 1000,
      drainRatePerSecond: mqtt.drainRatePerSecond,
      holdUnsyncedMs: config.clock.holdUnsyncedSeconds * 1000,
      reconnect: { minMs: mqtt.reconnectMinSeconds * 1000, maxMs: mqtt.reconnectMaxSeconds * 1000 },
      keepaliveSeconds: mqtt.keepaliveSeconds,
      telemetryMs: mqtt.telemetrySeconds * 1000,
      telemetry: () => this.telemetry(),
      outbox: this.outbox,
      clock,
      random: deps.random ?? Math.random,
      logger,
      versions: this.versions,
    });
    if (config.printer) {
      const printer = config.printer;
      const keyFile = terminalKeyFile(config);
      const key = loadOrCreateSigningKey(keyFile);
      this.publicKey = publicKeyText(key.publicKey);
      if (key.created) logger.info({ keyFile, publicKey: this.publicKey }, 'made the terminal signing key; register its public key with the province');
      this.receipts = new ReceiptService({
        link: new PrinterLink({
          path: printer.path,
          baudRate: printer.baudRate,
          openPort: deps.openPort,
          timers: deps.timers ?? hostTimers,
          logger,
          statusTimeoutMs: printer.statusTimeoutMs,
          now: () => clock.now(),
        }),
        queue: new ReceiptQueue(db),
        profile: printer.profile,
        policy: printer.print,
        evaluationUrl: printer.evaluationUrl,
        signingKey: key.privateKey,
        hallName: terminal.hallName ?? terminal.hallCode,
        clock,
        newId: this.newId,
        logger,
        pollMs: printer.pollSeconds * 1000,
      });
      this.receipts.on('printed', ({ id, invitationId }) => this.emit('printed', { id, invitationId }));
    }
    this.server = createApiServer({
      desk: this.desk,
      reprint: (id) => this.reprint(id),
      today: () => dailyStats(this.outbox, clock.now()),
      token: config.http.token,
      logger,
      status: () => this.status(),
      countRejected: (code) => {
        this.httpRejected[code] = (this.httpRejected[code] ?? 0) + 1;
      },
    });

    const stored = (): void => this.uplink.notify();
    this.desk.on('opened', (inv) => this.emit('invitation', inv));
    this.desk.on('closed', (record) => {
      stored();
      // Off the rating path: the terminal's acknowledgement never waits on a receipt.
      setImmediate(() => this.receipts?.onClosed(record));
      this.emit('closed', record);
    });
    this.desk.on('event', (event) => (stored(), this.emit('event', event)));
    this.device.on('hello', (info) => {
      this.desk.onDeviceHello(info);
      this.emit('device', info);
    });
    this.device.on('reject', (reason, detail) => this.emit('frameRejected', reason, detail));
    this.uplink.on('acked', (ack) => this.emit('acked', ack));
    this.uplink.on('command', (command) => void this.carryOut(command).then((result) => this.uplink.answer(result)));
    this.uplink.on('config', (province) => {
      if (!province.reasonCatalog) return;
      // Stored as the province sent it: the catalogue is never edited locally.
      settings.set(REASON_CATALOG_KEY, JSON.stringify(province.reasonCatalog));
      logger.info({ version: province.reasonCatalog.version }, 'reason catalogue from the province');
    });
    this.uplink.on('connected', () => this.emit('broker', 'connected'));
    this.uplink.on('disconnected', () => this.emit('broker', 'disconnected'));
  }

  /** Opens the database (failing clearly if it is unusable), then starts every part. */
  static async start(config: BridgeConfig, deps: BridgeDeps): Promise<Bridge> {
    const bridge = new Bridge(config, openDatabase(config.database.path), deps);
    bridge.server.listen(config.http.port, config.http.host);
    await once(bridge.server, 'listening');
    await bridge.clock.pollNtp();
    bridge.prune();
    bridge.housekeeping.push(
      setInterval(() => void bridge.clock.pollNtp(), config.clock.ntpPollSeconds * 1000),
      setInterval(() => bridge.prune(), PRUNE_EVERY_MS),
    );
    bridge.device.start();
    bridge.uplink.start();
    bridge.receipts?.start();
    return bridge;
  }

  async stop(): Promise<void> {
    for (const timer of this.housekeeping) clearInterval(timer);
    this.desk.stop();
    await this.device.stop();
    await this.uplink.stop();
    await this.receipts?.stop();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.db.close();
  }

  /** Where the HTTP API listens, e.g. http://127.0.0.1:8080. */
  get httpUrl(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  }

  storage(): StorageStatus {
    return storageStatus(this.db, this.config.database.path, this.config.database.maxSizeMB * 1024 * 1024);
  }

  status(): BridgeStatus {
    const { terminal } = this.config;
    const backlog = this.outbox.stats();
    const device = this.device.status();
    const broker = this.uplink.status();
    const storage = this.storage();
    const catalog = this.reasonCatalog();
    const alarms: Alarm[] = [];
    if (!device.alive) alarms.push('terminal_offline');
    if (!broker.connected) alarms.push('broker_offline');
    if (!this.clock.isSynced()) alarms.push('clock_unsynced');
    if (storage.full) alarms.push('storage_full');
    if (backlog.quarantined > 0) alarms.push('records_quarantined');
    const printer = this.receipts?.status();
    if (printer) {
      const alarm = PRINTER_ALARMS[printer.condition];
      if (alarm) alarms.push(alarm);
    }
    return {
      terminal: { id: terminal.id, areaCode: terminal.areaCode, hallCode: terminal.hallCode, hallName: terminal.hallName ?? null, windowNo: terminal.windowNo },
      alarms,
      staffId: this.desk.staffId,
      invitation: this.desk.current() ?? null,
      device,
      broker,
      backlog: {
        ...backlog,
        oldestPendingAgeMs: backlog.oldestPendingAt ? this.clock.now().getTime() - Date.parse(backlog.oldestPendingAt) : null,
        recentlyQuarantined: this.outbox.quarantined(5),
      },
      clock: { synced: this.clock.isSynced(), trustedFrom: this.clock.trustedFrom, bootId: this.clock.bootId, now: this.clock.now().toISOString() },
      storage,
      reasonCatalog: catalog ? { version: catalog.version, reasons: catalog.reasons.length } : null,
      printer: printer ? { configured: true, publicKey: this.publicKey ?? '', ...printer } : { configured: false },
      http: { rejected: { ...this.httpRejected } },
      versions: this.versions,
    };
  }

  /** The periodic health report on `…/telemetry`. */
  private telemetry(): object {
    const s = this.status();
    return {
      alarms: s.alarms,
      backlog: { pending: s.backlog.pending, quarantined: s.backlog.quarantined, oldestPendingAgeMs: s.backlog.oldestPendingAgeMs },
      link: { alive: s.device.alive, portOpen: s.device.portOpen, serial: s.device.device?.serial ?? null, fw: s.device.device?.fw ?? null, rejectedFrames: s.device.counters.rejected },
      uplink: { inflight: s.broker.inflight, backlogToDrain: s.broker.backlogToDrain, heldForClock: s.broker.heldForClock },
      clock: { synced: s.clock.synced, trustedFrom: s.clock.trustedFrom },
      storage: s.storage,
      printer: s.printer.configured ? { condition: s.printer.condition, pending: s.printer.pending, printed: s.printer.printed } : null,
    };
  }

  private reasonCatalog(): ReasonCatalog | null {
    const stored = this.settings.get(REASON_CATALOG_KEY);
    return stored ? (JSON.parse(stored) as ReasonCatalog) : null;
  }

  /** Carries out a command from the province (see protocol/commands.ts). */
  private async carryOut(command: Command | { invalid: string; id: string | null }): Promise<CommandResult> {
    if ('invalid' in command) return { id: command.id, ok: false, error: `invalid command: ${command.invalid}` };
    this.logger.info({ command }, 'command from the province');
    try {
      switch (command.command) {
        case 'status':
          return { id: command.id, ok: true, result: this.status() };
        case 'reprint':
          return { id: command.id, ok: true, result: this.reprint(command.invitationId) };
        case 'resend': {
          if (command.toSeq < command.fromSeq) return { id: command.id, ok: false, error: 'toSeq: must not be below fromSeq' };
          const requeued = this.outbox.requeueRange(command.fromSeq, command.toSeq);
          this.uplink.rewind();
          return { id: command.id, ok: true, result: { requeued } };
        }
        case 'selftest': {
          // Nobody at the counter: the steps that need a person are reported skipped.
          const report = await this.selftest({ say: (text) => this.logger.info({ selftest: text }, 'self-test') });
          return { id: command.id, ok: report.passed, result: report, ...(!report.passed && { error: 'self-test failed: see result.steps' }) };
        }
        case 'update-config': {
          if (!this.configFile) return { id: command.id, ok: false, error: 'this bridge runs without a config file: nothing to update' };
          const { changed } = updateConfigFile(this.configFile, command.changes);
          // After the answer is out: the restart stops the uplink.
          if (changed.length > 0) setImmediate(() => this.emit('restartRequested', `config updated by command ${command.id}`));
          return { id: command.id, ok: true, result: { changed, restarting: changed.length > 0 } };
        }
      }
    } catch (err) {
      return { id: command.id, ok: false, error: err instanceof ConfigError ? err.message.replace(/\n\s*-\s*/g, '; ') : (err as Error).message };
    }
  }

  /**
   * Runs the self-test (see selftest/selftest.ts). Not while an invitation is open, and no
   * invitation can start until it ends.
   */
  async selftest(io: SelftestIO, onStep?: (result: StepResult) => void, timeouts?: SelftestTimeouts): Promise<SelftestReport> {
    if (this.selftestRunning) throw new DeskError(409, 'self_test', 'a self-test is already running');
    const open = this.desk.current();
    if (open) throw new DeskError(409, 'invitation_open', `invitation ${open.id} is open; run the self-test when the window is free`);
    this.selftestRunning = true;
    this.logger.info('self-test started');
    try {
      const report = await runSelftest(this.selftestParts(), io, onStep, timeouts);
      this.logger.info({ passed: report.passed, failed: report.steps.filter((s) => s.outcome === 'fail').map((s) => s.step) }, 'self-test finished');
      return report;
    } finally {
      this.selftestRunning = false;
    }
  }

  private selftestParts(): SelftestParts {
    const { device, uplink, receipts, config } = this;
    return {
      // Asked afresh: a terminal that went away a moment ago still counts as alive in status().
      terminalHello: async (ms) => {
        const answer = nextEvent<[DeviceInfo]>(device, 'hello', ms);
        device.greet();
        return (await answer)?.[0] ?? null;
      },
      sendTest: (frame) => void device.send({ type: 'test', ...frame }),
      nextPress: async (ms) => (await nextEvent<[number]>(device, 'press', ms))?.[0] ?? null,
      ...(receipts && {
        printTestReceipt: async (ms: number) => {
          const { receiptId, url } = receipts.queueTest(config.terminal.id, config.terminal.windowNo, this.newId());
          const printed = await nextEvent<[{ id: string }]>(receipts, 'printed', ms, (info) => info.id === receiptId);
          return printed ? { printed: true as const, url } : { printed: false as const, reason: `not printed within ${ms / 1000} s; the printer is ${receipts.status().condition}` };
        },
      }),
      storeRecord: (detail) => {
        const id = this.desk.recordSelftest(detail, device.status().device);
        this.uplink.notify();
        return id;
      },
      provinceAnswer: async (id, ms) => (await nextEvent<[Ack]>(uplink, 'acked', ms, (ack) => ack.ids.includes(id)))?.[0] ?? null,
      brokerState: () => (uplink.status().connected ? 'the broker is connected; the province did not answer' : 'the broker is not connected'),
      now: () => this.clock.now(),
    };
  }

  /** Staff asked for the receipt of an invitation again. */
  private reprint(invitationId: string): { receiptId: string } {
    if (!this.receipts) throw new DeskError(409, 'no_printer', 'this terminal has no receipt printer configured');
    const stored = this.outbox.get(invitationId);
    if (stored?.record.kind !== 'invitation') throw new DeskError(404, 'not_found', `no closed invitation ${invitationId} at this window`);
    return { receiptId: this.receipts.queue(stored.record, true) };
  }

  private prune(): void {
    const days = this.config.database.retainAckedDays;
    const pruned = this.outbox.prune(new Date(this.clock.now().getTime() - days * DAY_MS));
    if (pruned) this.logger.info({ pruned, days }, 'pruned acknowledged records past retention');
  }
}
