import { EventEmitter, once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import { FIRMWARE_VERSION } from '../firmware/core/terminal-core.js';
import type { Ack } from '../protocol/acks.js';
import { hostTimers, type LinkRejectReason, type LinkTimers } from '../protocol/link.js';
import { SERIAL_PROTOCOL_VERSION } from '../protocol/serial-messages.js';
import { systemClock, type Clock } from './clock.js';
import type { BridgeConfig } from './config.js';
import { DeviceLink, type DeviceInfo, type DeviceLinkStatus, type OpenSerialPort } from './device/device-link.js';
import { InvitationDesk, type OpenInvitation } from './desk/invitation-desk.js';
import { createApiServer } from './http/api.js';
import { silentLogger, type Logger } from './log.js';
import { openDatabase, type Db } from './store/database.js';
import { Outbox, type OutboxCounts } from './store/outbox.js';
import { Settings } from './store/settings.js';
import type { StoredEvent, StoredInvitation } from './store/stored-record.js';
import { Uplink, type UplinkStatus } from './uplink/uplink.js';

export const BRIDGE_VERSION = '0.1.0';

/** What touches the world, injected so that the simulator and tests can drive it. */
export interface BridgeDeps {
  openPort: OpenSerialPort;
  clock?: Clock;
  timers?: LinkTimers;
  newId?: () => string;
  logger?: Logger;
  /** Serial link timing; defaults suit a real line. */
  linkTiming?: { resendMs?: number; maxResendMs?: number; heartbeatMs?: number };
}

export interface BridgeStatus {
  terminal: { id: string; areaCode: string; hallCode: string; hallName: string | null; windowNo: string };
  staffId: string | null;
  invitation: OpenInvitation | null;
  device: DeviceLinkStatus;
  broker: UplinkStatus;
  backlog: OutboxCounts & { oldestPendingAgeMs: number | null };
  http: { rejected: Record<string, number> };
  versions: Record<string, string>;
}

export type BridgeEvents = {
  invitation: [OpenInvitation];
  closed: [StoredInvitation];
  event: [StoredEvent];
  acked: [Ack];
  device: [DeviceInfo];
  frameRejected: [LinkRejectReason, string];
  broker: ['connected' | 'disconnected'];
};

/** One window's bridge: serial link to the terminal, invitation desk, outbox, uplink, HTTP API. */
export class Bridge extends EventEmitter<BridgeEvents> {
  readonly desk: InvitationDesk;
  readonly outbox: Outbox;
  private readonly device: DeviceLink;
  private readonly uplink: Uplink;
  private readonly server: Server;
  private readonly clock: Clock;
  private readonly httpRejected: Record<string, number> = {};
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
    const clock = deps.clock ?? systemClock();
    this.clock = clock;
    const logger = deps.logger ?? silentLogger;
    const { terminal } = config;
    this.outbox = new Outbox(db, clock);
    this.device = new DeviceLink({
      path: config.serial.path,
      baudRate: config.serial.baudRate,
      openPort: deps.openPort,
      timers: deps.timers ?? hostTimers,
      bootId: clock.bootId,
      logger,
      link: deps.linkTiming,
      onReport: (report, device) => {
        this.desk.onDeviceReport(report, device);
      },
    });
    this.desk = new InvitationDesk({
      identity: { terminalId: terminal.id, areaCode: terminal.areaCode, hallCode: terminal.hallCode, windowNo: terminal.windowNo },
      outbox: this.outbox,
      settings: new Settings(db),
      clock,
      newId: deps.newId ?? (() => uuidv7()),
      logger,
      timeoutMs: config.invitation.timeoutSeconds * 1000,
      graceMs: config.invitation.deviceGraceSeconds * 1000,
      deviceReady: () => this.device.status().alive,
      sendInvite: (inv, timeoutMs) => this.device.send({ type: 'invite', inv, timeoutMs }),
    });
    this.uplink = new Uplink({
      url: config.mqtt.url,
      username: config.mqtt.username,
      password: config.mqtt.password,
      clientId: config.mqtt.clientId ?? `hcp-${terminal.id}`,
      terminalId: terminal.id,
      topicPrefix: config.mqtt.topicPrefix,
      gradeProfile: config.mqtt.gradeProfile,
      inflight: config.mqtt.inflight,
      ackTimeoutMs: config.mqtt.ackTimeoutSeconds * 1000,
      outbox: this.outbox,
      clock,
      logger,
      versions: this.versions,
    });
    this.server = createApiServer({
      desk: this.desk,
      logger,
      status: () => this.status(),
      countRejected: (code) => {
        this.httpRejected[code] = (this.httpRejected[code] ?? 0) + 1;
      },
    });

    const stored = (): void => this.uplink.notify();
    this.desk.on('opened', (inv) => this.emit('invitation', inv));
    this.desk.on('closed', (record) => (stored(), this.emit('closed', record)));
    this.desk.on('event', (event) => (stored(), this.emit('event', event)));
    this.device.on('hello', (info) => this.emit('device', info));
    this.device.on('reject', (reason, detail) => this.emit('frameRejected', reason, detail));
    this.uplink.on('acked', (ack) => this.emit('acked', ack));
    this.uplink.on('connected', () => this.emit('broker', 'connected'));
    this.uplink.on('disconnected', () => this.emit('broker', 'disconnected'));
  }

  /** Opens the database (failing clearly if it is unusable), then starts every part. */
  static async start(config: BridgeConfig, deps: BridgeDeps): Promise<Bridge> {
    const bridge = new Bridge(config, openDatabase(config.database.path), deps);
    bridge.server.listen(config.http.port, config.http.host);
    await once(bridge.server, 'listening');
    bridge.device.start();
    bridge.uplink.start();
    return bridge;
  }

  async stop(): Promise<void> {
    this.desk.stop();
    await this.device.stop();
    await this.uplink.stop();
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
    const { terminal } = this.config;
    const backlog = this.outbox.stats();
    return {
      terminal: { id: terminal.id, areaCode: terminal.areaCode, hallCode: terminal.hallCode, hallName: terminal.hallName ?? null, windowNo: terminal.windowNo },
      staffId: this.desk.staffId,
      invitation: this.desk.current() ?? null,
      device: this.device.status(),
      broker: this.uplink.status(),
      backlog: {
        ...backlog,
        oldestPendingAgeMs: backlog.oldestPendingAt ? this.clock.now().getTime() - Date.parse(backlog.oldestPendingAt) : null,
      },
      http: { rejected: { ...this.httpRejected } },
      versions: this.versions,
    };
  }
}
