import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import { FIRMWARE_VERSION } from '../firmware/core/terminal-core.js';
import { RECORD_FORMATS } from '../protocol/record-formats/index.js';
import { SERIAL_PROTOCOL_VERSION } from '../protocol/serial-messages.js';
import { HCP_VERSION } from '../protocol/version.js';
import { secondsToMs } from '../protocol/settings.js';
import { hostTimers, type Timers } from '../protocol/timers.js';
import type { StaffActionEntry } from '../protocol/staff-actions.js';
import type { BridgeEvents } from './bridge-events.js';
import { osBootId } from './clock.js';
import type { CommandContext } from './commands/command.js';
import { route } from './commands/index.js';
import { terminalPort, type BridgeConfig } from './config.js';
import { dailyStats } from './desk/daily-stats.js';
import { InvitationDesk, type OpenInvitation } from './desk/invitation-desk.js';
import { TerminalLink, type OpenSerialPort } from './terminal/terminal-link.js';
import { loadOrCreatePairing, pairingFile } from './terminal/pairing.js';
import type { Feature } from './features/feature.js';
import { bridgeFeatures } from './features/index.js';
import { createApiServer, listenApi } from './http/api.js';
import { RecordSealer } from './identity/record-sealer.js';
import { loadTerminalIdentity, type TerminalIdentity } from './identity/terminal-key.js';
import { StaffSignIn } from './http/staff-sign-in.js';
import { callerTokens } from './http/token-file.js';
import { silentLogger, type Logger } from './log.js';
import { PrinterLink } from './printer/printer-link.js';
import { ReceiptQueue } from './printer/receipt-queue.js';
import { ReceiptService, type ReceiptServiceOptions } from './printer/receipt-service.js';
import { reprintReceipt } from './printer/reprint.js';
import { GradeProfileStore } from './province/grade-profile.js';
import { ReceiptPageStore } from './province/receipt-page.js';
import { ReasonCatalogStore } from './province/reason-catalog.js';
import { StaffRosterStore } from './province/staff-roster.js';
import { StaffStarsStore } from './province/staff-stars.js';
import { CustomerScreen } from './screen/customer-screen.js';
import { StaffCards } from './screen/staff-cards.js';
import { selftestPartsOf } from './selftest/bridge-parts.js';
import { SelftestRunner } from './selftest/selftest-runner.js';
import type { SelftestIO, SelftestReport, SelftestTimeouts, StepResult } from './selftest/selftest.js';
import { readStatus, type BridgeStatus, type StatusSources } from './status/status.js';
import { Tally } from './status/tally.js';
import { AuditLog } from './store/audit.js';
import { openDatabase, type Db } from './store/database.js';
import { OpenInvitationStore } from './store/open-invitation-store.js';
import { Outbox } from './store/outbox.js';
import { InvitationCounts } from './store/invitation-counts.js';
import { Settings } from './store/settings.js';
import { storageStatus } from './store/storage.js';
import { Commits } from './store/commits.js';
import { TimeKeeper } from './time/time-keeper.js';
import { systemWall, type WallSource } from './time/wall-source.js';
import { brokerConnection } from './uplink/mqtt-options.js';
import { Uplink, type ConnectBroker } from './uplink/uplink.js';
import { voiceOutput, type VoiceDeps } from './voice/voice-output.js';

export const BRIDGE_VERSION = HCP_VERSION;

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
  /** Opens the MQTT client; default mqtt.connect (a test gives a double or a wrapped client). */
  connect?: ConnectBroker;
  /** Stand-ins for the voice's player (aplay, or the terminal's `say`) and synthesizer (espeak-ng). */
  voice?: VoiceDeps;
  /** How often the customer screen tries its port again while another program holds it (default SCREEN_RETRY_MS). */
  screenRetryMs?: number;
}

/**
 * One window's bridge, composed: the serial link to the terminal, the invitation desk, the
 * outbox, the uplink, the printer, the HTTP API, remote commands (bridge/commands/) and the
 * features (bridge/features/). It builds the parts and connects their events; each part does the work.
 */
export class Bridge extends EventEmitter<BridgeEvents> {
  readonly desk: InvitationDesk;
  readonly outbox: Outbox;
  /** The invitations' outcome counts, for today's participation figures. */
  readonly counts: InvitationCounts;
  readonly clock: TimeKeeper;
  private readonly link: TerminalLink;
  private readonly uplink: Uplink;
  private readonly server: Server;
  private readonly selftests: SelftestRunner;
  private readonly features: Feature[];
  private readonly statusSources: StatusSources;

  private constructor(
    readonly config: BridgeConfig,
    private readonly db: Db,
    deps: BridgeDeps,
  ) {
    super();
    const { terminal, mqtt, invitation } = config;
    const timers = deps.timers ?? hostTimers;
    const logger = deps.logger ?? silentLogger;
    const newId = deps.newId ?? (() => uuidv7());
    const clock = (this.clock = new TimeKeeper(deps.wall ?? systemWall, deps.bootId ?? osBootId(), config.clock.trust));
    const commits = new Commits(db, clock, logger);
    // The terminal's key seals every record at commit (a sealed layout) and signs its receipts.
    const identity = loadTerminalIdentity(config, logger);
    const layout = RECORD_FORMATS[mqtt.recordFormat];
    const settings = new Settings(db);
    const gradeProfile = new GradeProfileStore(settings, logger, mqtt.gradeProfile);
    const sealer = layout.sealed ? new RecordSealer(layout, () => gradeProfile.inEffect(), identity.sign) : null;
    const outbox = (this.outbox = new Outbox(db, clock, commits, sealer));
    const counts = (this.counts = new InvitationCounts(db));
    const reasons = new ReasonCatalogStore(settings, logger);
    const roster = new StaffRosterStore(settings, logger);
    const staffStars = new StaffStarsStore(settings, logger);
    const staffCards = new StaffCards({ settings, roster: () => roster.current(), stars: (staffId) => staffStars.starsOf(staffId)?.stars ?? null });
    const staffSignIn = new StaffSignIn({ roster: () => roster.current(), allowUnverified: config.http.allowUnverifiedStaff, now: () => timers.now() });
    const storage = () => storageStatus(db, config.database.path, config.database.maxSizeMB * 1024 * 1024, commits.fault);
    const link = (this.link = new TerminalLink({
      ...terminalPort(config),
      openPort: deps.openPort,
      timers,
      // Per process, unlike the clock's boot id: a restarted bridge numbers its frames from 1
      // again, and the terminal must see a new peer, not resends.
      bootId: randomBytes(8).toString('hex'),
      logger,
      link: deps.linkTiming,
      pairing: loadOrCreatePairing(pairingFile(config)),
      onReport: (report, info) => desk.onTerminalReport(report, info),
    }));
    const desk = (this.desk = new InvitationDesk({
      identity: { terminalId: terminal.id, areaCode: terminal.areaCode, hallCode: terminal.hallCode, windowNo: terminal.windowNo },
      outbox,
      openStore: new OpenInvitationStore<OpenInvitation>(db),
      transaction: (fn) => commits.run(fn),
      settings,
      clock,
      timers,
      newId,
      logger,
      timeoutMs: secondsToMs(invitation.timeoutSeconds),
      graceMs: secondsToMs(invitation.deviceGraceSeconds),
      reasonTimeoutMs: secondsToMs(invitation.reasonTimeoutSeconds),
      honesty: {
        minPressMs: invitation.flags.minPressMs,
        strayWindowMs: invitation.flags.strayWindowSeconds * 1000,
        burstCount: invitation.flags.burstCount,
        burstWindowMs: invitation.flags.burstWindowMinutes * 60_000,
      },
      terminalReady: () => link.status().alive,
      storageFull: () => storage().full,
      selfTesting: () => this.selftests.running,
      reasonCatalog: () => reasons.current(),
      sendInvite: (inv, timeoutMs, reasonCount, reasonTimeoutMs) => link.send({ type: 'invite', inv, timeoutMs, reasons: reasonCount, reasonTimeoutMs }),
      sendCancel: (inv) => link.send({ type: 'cancel', inv }),
      sendPause: (active) => link.send({ type: 'pause', active }),
    }));
    const versions = { bridge: BRIDGE_VERSION, protocol: String(SERIAL_PROTOCOL_VERSION), expectedFirmware: FIRMWARE_VERSION };
    const uplink = (this.uplink = new Uplink({
      broker: brokerConnection(config, 'service', undefined, identity.sign),
      connect: deps.connect,
      terminalId: terminal.id,
      topicPrefix: mqtt.topicPrefix,
      gradeProfile: () => gradeProfile.inEffect(),
      recordFormat: mqtt.recordFormat,
      sign: identity.sign,
      publicKey: identity.publicKey,
      inflight: mqtt.inflight,
      ackTimeoutMs: mqtt.ackTimeoutSeconds * 1000,
      drainRatePerSecond: mqtt.drainRatePerSecond,
      holdUnsyncedMs: config.clock.holdUnsyncedSeconds * 1000,
      reconnect: { minMs: mqtt.reconnectMinSeconds * 1000, maxMs: mqtt.reconnectMaxSeconds * 1000 },
      outbox,
      clock,
      timers,
      random: deps.random ?? Math.random,
      logger,
      versions,
    }));
    const receiptPage = new ReceiptPageStore(settings, logger);
    const printer = config.printer && receiptPrinter(config, config.printer, identity, { closings: this, openPort: deps.openPort, db, clock, timers, newId, logger, receiptPage: () => receiptPage.current() });
    const receipts = printer?.receipts;
    const staffAction = (entry: StaffActionEntry) => this.emit('staffAction', entry);
    /** Queues the receipt again and announces the reprint for the audit, whoever asked: staff at the console, or the province. */
    const reprint = (invitationId: string, actor: string | null) => {
      const queued = reprintReceipt({ receipts, outbox }, invitationId);
      staffAction({ action: 'reprint', actor, detail: { invitationId, receiptId: queued.receiptId } });
      return queued;
    };
    const httpRejected = new Tally();
    // A `say` goes only to a terminal that is there: resent later, a prompt would come too late.
    const sayOnTerminal = (clip: number): boolean => {
      if (!link.status().alive) return false;
      link.send({ type: 'say', clip });
      return true;
    };
    const voice = config.voice && voiceOutput(config.voice, config.database.path, sayOnTerminal, deps.voice);
    const status = () => this.status();
    this.selftests = new SelftestRunner(selftestPartsOf({ terminal, link, desk, uplink, receipts, clock, timers, newId }), desk, logger, staffAction);
    this.server = createApiServer({
      desk,
      reprint,
      today: () => dailyStats(counts, clock.now()),
      staffSignIn,
      token: config.http.token,
      ...callerTokens(config.http),
      allowedHosts: config.http.allowedHosts,
      staffCards,
      logger,
      status,
      announce: (prompt) => this.emit('announce', prompt),
      countRejected: (code) => httpRejected.count(code),
    });
    const audit = new AuditLog(db);
    const transaction = <T>(fn: () => T): T => commits.run(fn);
    const featureContext = { events: this, config, timers, clock, logger, status, outbox, audit, transaction, newId, uplink, receipts, reasons, voice, desk, staffCards, settings };
    // Built here, not in the feature table: the status reads it.
    const screen = config.screen && new CustomerScreen(featureContext, config.screen, deps.screenRetryMs);
    this.features = bridgeFeatures({ ...featureContext, screen });
    this.statusSources = { terminal, desk, link, uplink, outbox, clock, storage, reasons, gradeProfile, roster, staffSignIn, printer, httpRejected, voice, screen, versions };
    const commands: CommandContext = {
      status,
      outbox,
      reprint,
      selftest: (io) => this.selftest(io),
      configFile: deps.configFile,
      // After the answer is out: the restart stops the uplink.
      restartAfterAnswer: (why) => timers.setTimeout(() => this.emit('restartRequested', why), 0),
      staffAction,
      logger,
    };

    desk.on('opened', (inv) => this.emit('invitation', inv));
    desk.on('closed', (record) => this.emit('closed', record));
    desk.on('event', (event) => this.emit('event', event));
    desk.on('staffAction', (entry) => this.emit('staffAction', entry));
    desk.on('choosing', (offer) => this.emit('choosing', offer));
    desk.on('paused', (change) => this.emit('paused', change));
    link.on('choosing', (inv, choices) => desk.onTerminalChoosing(inv, choices));
    link.on('hello', (info) => {
      desk.onTerminalHello(info);
      desk.resume(info);
      this.emit('terminal', info);
    });
    link.on('reject', (reason, detail) => this.emit('frameRejected', reason, detail));
    // The running bridge pinned the terminal that took its key: a technician's act, kept in the audit.
    link.on('paired', (serial) => this.emit('staffAction', { action: 'pairing', actor: null, detail: { serial, port: link.status().path } }));
    uplink.on('acked', (ack) => this.emit('acked', ack));
    uplink.on('ignoredAcks', (ids) => this.emit('ignoredAcks', ids));
    uplink.on('command', (command) => void route(command, commands).then((result) => uplink.answer(result)));
    uplink.on('config', (province) => {
      reasons.adopt(province);
      roster.adopt(province);
      gradeProfile.adopt(province);
      receiptPage.adopt(province);
      staffStars.adopt(province);
    });
    uplink.on('connected', () => this.emit('broker', 'connected'));
    uplink.on('disconnected', () => this.emit('broker', 'disconnected'));
    receipts?.on('printed', ({ id, invitationId }) => this.emit('printed', { id, invitationId }));
  }

  /** Opens the database (failing clearly if it is unusable), then starts every part. */
  static async start(config: BridgeConfig, deps: BridgeDeps): Promise<Bridge> {
    const bridge = new Bridge(config, openDatabase(config.database.path), deps);
    await listenApi(bridge.server, config.http);
    for (const feature of bridge.features) await feature.start();
    bridge.link.start();
    bridge.uplink.start();
    return bridge;
  }

  /** The rating path first, then the uplink, the features, the API and the database. */
  async stop(): Promise<void> {
    this.desk.stop();
    await this.link.stop();
    await this.uplink.stop();
    for (const feature of [...this.features].reverse()) await feature.stop();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.db.close();
  }

  /** Where the HTTP API listens, e.g. http://127.0.0.1:8080. */
  get httpUrl(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  }

  status(): BridgeStatus {
    return readStatus(this.statusSources);
  }

  /** Runs the self-test (see selftest/selftest.ts); no invitation meanwhile. */
  selftest(io: SelftestIO, onStep?: (result: StepResult) => void, timeouts?: SelftestTimeouts): Promise<SelftestReport> {
    return this.selftests.run(io, onStep, timeouts);
  }
}

/** The receipt printer's service and the public key its QR codes are signed for. */
function receiptPrinter(
  config: BridgeConfig,
  printer: NonNullable<BridgeConfig['printer']>,
  identity: TerminalIdentity,
  deps: Pick<ReceiptServiceOptions, 'closings' | 'clock' | 'timers' | 'newId' | 'logger' | 'receiptPage'> & { openPort: OpenSerialPort; db: Db },
): { receipts: ReceiptService; publicKey: string } {
  const { openPort, db, logger, clock, timers } = deps;
  const receipts = new ReceiptService({
    ...deps,
    link: new PrinterLink({ path: printer.path, baudRate: printer.baudRate, openPort, timers, logger, statusTimeoutMs: printer.statusTimeoutMs, now: () => clock.now() }),
    queue: new ReceiptQueue(db),
    profile: printer.profile,
    policy: printer.print,
    evaluationUrl: printer.evaluationUrl,
    signingKey: identity.privateKey,
    hallName: config.terminal.hallName ?? config.terminal.hallCode,
    place: config.terminal,
    pollMs: printer.pollSeconds * 1000,
  });
  return { receipts, publicKey: identity.publicKey };
}
