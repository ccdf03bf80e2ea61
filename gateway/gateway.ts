import { HCP_VERSION } from '../protocol/version.js';
import { ConfigError } from '../bridge/config.js';
import { readSecretFile } from '../bridge/secret-file.js';
import { hostTimers } from '../protocol/timers.js';
import { Sessions } from './accounts/sessions.js';
import { channelsFromConfig } from './alerts/channels/from-config.js';
import { FaultScanner } from './alerts/fault-scan.js';
import { AlertNotifier, type AlertNotifierStatus } from './alerts/notifier.js';
import { raisesBadReview } from './alerts/schema.js';
import { loadWorkingCalendar } from './alerts/working-days.js';
import type { GatewayConfig } from './config.js';
import type { Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import { openDatabase } from './db/open-database.js';
import { profilePayloads } from './delivery/payloads.js';
import { DeliveryWorker, type DeliveryWorkerStatus } from './delivery/worker.js';
import { startDashboardHttp } from './dashboard/dashboard-http.js';
import { startAdminHttp, type AdminHttp } from './http/admin-http.js';
import type { ListeningServer } from './http/listen.js';
import { RecordIngest, type IngestStats } from './ingest/record-ingest.js';
import { answerTimeProbe } from './ingest/time-probes.js';
import { VerifyThread } from './ingest/verify-thread.js';
import { ChangeWatch } from './live/changes.js';
import { GatewaySession, type Connect, type SessionStatus } from './mqtt/session.js';
import { systemClock, type Clock, type Logger } from './ports.js';
import { httpProvinceClient } from './province/client.js';
import { loadProvinceProfile, type ProvinceProfile } from './province/profile.js';
import { loadProvinceSecrets } from './province/secrets.js';
import { startRateLaterHttp, type RateLaterHttp } from './rate-later/rate-later-http.js';
import { receiptPageSource } from './receipt-page.js';
import { TerminalRegistry } from './registry/terminal-registry.js';
import { InstanceHeartbeat } from './status/instances.js';
import { loadTerminalConfig } from './terminal-config.js';
import { StaffStarsService } from './stats/staff-stars.js';
import type { ReasonCatalog } from '../protocol/province-config.js';

export const GATEWAY_VERSION = HCP_VERSION;

/** What the composition root may be given instead of the world (tests, `hcp start`). */
export interface GatewayDeps {
  logger: Logger;
  clock?: Clock;
  /** Default: mqtt.js connectAsync. */
  connect?: Connect;
  /** Default: openDatabase(config.database). */
  database?: Database;
  /** The province's HTTP calls. Default: global fetch. */
  fetch?: typeof fetch;
  /** Where the province profile's appWordEnv is read. Default: process.env. */
  env?: Record<string, string | undefined>;
}

export interface GatewayStatus {
  instance: string;
  version: string;
  startedAt: string;
  broker: SessionStatus;
  database: { kind: Database['kind']; up: boolean; lastError: string | null };
  ingest: IngestStats;
  /** Delivery into the provincial interface: null without a province section; paused when province.deliver is false. */
  province: (DeliveryWorkerStatus & { profile: string; deliver: boolean }) | null;
  /** The rate-later page's address, when it is served. */
  rateLater: { url: string; publicUrl: string } | null;
  /** The managers' dashboard, when it is served. */
  dashboard: { url: string; publicUrl: string | null } | null;
  /** Alerts: this instance's sending (bad reviews and fleet faults raised by any instance), and its fault scans. */
  alerts: { notifier: AlertNotifierStatus; faultScans: ReturnType<FaultScanner['status']> };
}

/** The parts of one instance a Gateway stops, in the order it stops them. */
interface GatewayParts {
  session: GatewaySession;
  heartbeat: InstanceHeartbeat;
  http: AdminHttp;
  province: { profile: ProvinceProfile; worker: DeliveryWorker } | undefined;
  rateLater: RateLaterHttp | undefined;
  alerts: { notifier: AlertNotifier; faults: FaultScanner };
  dashboard: { http: ListeningServer; changes: ChangeWatch } | undefined;
  staffStars: StaffStarsService | undefined;
}

/**
 * One gateway instance: opens and migrates its database, applies the roster, subscribes, and
 * wires each leaf to its part (records → ingest, state and telemetry → registry, time probes →
 * their answer); publishes every approved terminal's config; beats in `instances`; serves the
 * admin API. It only wires: each part's rules live in its own folder.
 */
export class Gateway {
  readonly startedAt: Date;

  private constructor(
    readonly config: GatewayConfig,
    readonly db: Database,
    readonly registry: TerminalRegistry,
    readonly ingest: RecordIngest,
    private readonly parts: GatewayParts,
    clock: Clock,
  ) {
    this.startedAt = clock.now();
  }

  get province(): GatewayParts['province'] {
    return this.parts.province;
  }

  static async start(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
    const log = deps.logger;
    const clock = deps.clock ?? systemClock;
    const terminalConfig = loadTerminalConfig(config);
    // Read before anything opens: a bad profile or a missing secret stops the gateway at once.
    const profile = config.province ? loadProvinceProfile(config.province.profileFile) : undefined;
    const secrets = profile ? loadProvinceSecrets(profile, deps.env) : undefined;
    const calendar = loadWorkingCalendar(config.alerts.followUp.calendarFile);
    const channels = channelsFromConfig(config.alerts.channels, { clock, ...(deps.fetch && { fetch: deps.fetch }) });
    const db = deps.database ?? (await openDatabase(config.database, { logger: log, applicationName: `hcp-gateway ${config.instance}` }));
    const stack: (() => Promise<unknown>)[] = [() => db.close()];
    const unwind = async (): Promise<void> => {
      for (const close of stack.reverse()) await close().catch(() => undefined);
    };
    try {
      const migrated = await migrate(db, log);
      if (migrated.to !== migrated.from) log.info(migrated, 'gateway: database schema migrated');
      const prefix = config.mqtt.topicPrefix;
      // The session publishes for every part; the parts exist before it so that no message finds one missing.
      const late: { session?: GatewaySession; gateway?: Gateway } = {};
      const publisher = {
        publish: (topic: string, payload: string, options: { qos: 0 | 1; retain?: boolean }) =>
          late.session ? late.session.publish(topic, payload, options) : Promise.reject(new Error('not connected to the broker yet')),
      };
      // Each terminal's receipt QR leads where the profile says (the province's page or this gateway's): sent in its config.
      const receiptPage = receiptPageSource({ profile, publicUrl: config.rateLater?.publicUrl, logger: log.child({ part: 'receipt-page' }) });
      // The staff card's stars, made from the statistics and sent to each hall's terminals when they change.
      const staffStars: StaffStarsService | undefined = config.staffStars.enabled
        ? new StaffStarsService({ db, clock, timers: hostTimers, logger: log.child({ part: 'staff-stars' }), settings: config.staffStars, timeZone: config.timeZone, cancelsPerDay: config.misuse.cancelsPerDay, republish: (halls): Promise<number> => registry.publishConfigsAt(halls) })
        : undefined;
      const registry = new TerminalRegistry({ db, publisher, prefix, clock, logger: log, approval: config.terminals.approval, terminalConfig: () => terminalConfig, receiptPage, ...(staffStars && { staffStars: (place) => staffStars.of(place) }) });
      const postgres = db.kind === 'postgres';
      const ingest = new RecordIngest({
        db,
        publisher,
        prefix,
        instance: config.instance,
        clock,
        logger: log,
        maxBatch: config.ingest.maxBatch,
        maxQueue: config.ingest.maxQueue,
        concurrency: postgres ? config.ingest.concurrency : 1,
        ...(postgres && config.ingest.verifyThread && { verifyThread: new VerifyThread() }),
      });
      stack.push(() => ingest.stop());
      const province =
        profile && secrets
          ? {
              profile,
              worker: new DeliveryWorker({
                db,
                client: httpProvinceClient({ profile, secrets, clock, ...(deps.fetch && { fetch: deps.fetch }) }),
                payloads: profilePayloads(profile, () => terminalConfig?.reasonCatalog),
                instance: config.instance,
                clock,
                logger: log.child({ part: 'province' }),
                settings: profile.http,
              }),
            }
          : undefined;
      const session = await GatewaySession.start(
        config,
        {
          records: (topic, payload) => ingest.receive(topic, payload),
          state: (topic, payload) => registry.receiveState(topic, payload),
          telemetry: (topic, payload) => registry.receiveTelemetry(topic, payload),
          time: (topic, payload) => answerTimeProbe({ publisher, prefix, clock, logger: log }, topic, payload),
        },
        log,
        deps.connect,
      );
      late.session = session;
      stack.push(() => session.stop());
      // After the session exists: an approval by the roster publishes the terminal's config at once.
      if (config.terminals.rosterFile) log.info(await registry.applyRoster(config.terminals.rosterFile), 'gateway: terminal roster applied');
      const published = await registry.publishConfigs();
      log.info({ terminals: published }, 'gateway: retained configs published');
      if (staffStars) {
        staffStars.start();
        stack.push(() => staffStars.stop());
      }
      const status = (): GatewayStatus => {
        if (!late.gateway) throw new Error('the gateway is still starting');
        return late.gateway.status();
      };
      const heartbeat = new InstanceHeartbeat({ db, instance: config.instance, clock, logger: log, stats: () => status() });
      heartbeat.start();
      stack.push(() => heartbeat.stop());
      const http = await startAdminHttp({ host: config.http.host, port: config.http.port, token: readToken(config), registry,
        db,
        status: async () => status(),
        ...(profile && { deliveryAlertAfterAttempts: profile.http.maxAttemptsBeforeAlert }),
        logger: log,
        clock,
      });
      stack.push(() => http.stop());
      // In the province's mode the receipts lead to its own page: the gateway's would be a second way in.
      if (config.rateLater && profile?.rateLater.mode === 'province') log.warn({ profile: profile.name }, 'gateway: rateLater is set but the province profile sends receipts to the province’s own page: the gateway’s page is not served');
      const rateLater =
        config.rateLater && profile?.rateLater.mode !== 'province'
          ? await startRateLaterHttp({
            db,
            host: config.rateLater.host,
            port: config.rateLater.port,
            publicUrl: config.rateLater.publicUrl,
            trustForwardedFor: config.rateLater.trustForwardedFor,
            reasonCatalog: terminalConfig?.reasonCatalog,
            periodDays: profile?.rateLater.periodDays,
            windowRecentMinutes: config.rateLater.windowRecentMinutes,
            followUpAllowed: profile?.followUp.allowed ?? false,
            instance: config.instance,
            clock,
            logger: log.child({ part: 'rate-later' }),
          })
        : undefined;
      if (rateLater) stack.push(() => rateLater.stop());
      if (province && config.province?.deliver) {
        // A stored record is sent at once, not at the worker's next look.
        ingest.on('settled', () => province.worker.kick());
        await province.worker.start();
        stack.push(() => province.worker.stop());
      }
      const alerts = await startAlerts(config, { db, channels, clock, logger: log.child({ part: 'alerts' }) });
      stack.push(() => alerts.faults.stop(), () => alerts.notifier.stop());
      // A bad review's alert is raised in the batch's transaction: sent at once, not at the notifier's next look.
      // Only then: a claim query after every batch would cost the database one statement per batch at full ingest rate.
      ingest.on('record', (record) => {
        if (raisesBadReview(record)) alerts.notifier.kick();
      });
      const dashboard = config.dashboard
        ? await startDashboard(config, config.dashboard, { db, calendar, reasonCatalog: terminalConfig?.reasonCatalog, clock, logger: log.child({ part: 'dashboard' }) })
        : undefined;
      if (dashboard) stack.push(() => dashboard.http.stop(), () => dashboard.changes.stop());
      late.gateway = new Gateway(config, db, registry, ingest, { session, heartbeat, http, province, rateLater, alerts, dashboard, staffStars }, clock);
      return late.gateway;
    } catch (err) {
      await unwind();
      throw err;
    }
  }

  get adminUrl(): string {
    return this.parts.http.url;
  }

  status(): GatewayStatus {
    const ingest = this.ingest.stats();
    const { province, rateLater, dashboard, alerts } = this.parts;
    return {
      instance: this.config.instance,
      version: GATEWAY_VERSION,
      startedAt: this.startedAt.toISOString(),
      broker: this.parts.session.status(),
      database: { kind: this.db.kind, up: ingest.dbUp, lastError: ingest.lastDbError },
      ingest,
      province: province ? { ...province.worker.status(), profile: province.profile.name, deliver: this.config.province?.deliver ?? false } : null,
      rateLater: rateLater && this.config.rateLater ? { url: rateLater.url, publicUrl: this.config.rateLater.publicUrl } : null,
      dashboard: dashboard ? { url: dashboard.http.url, publicUrl: this.config.dashboard?.publicUrl ?? null } : null,
      alerts: { notifier: alerts.notifier.status(), faultScans: alerts.faults.status() },
    };
  }

  /** The rate-later page's local address (tests, `hcp start`). */
  get rateLaterUrl(): string | undefined {
    return this.parts.rateLater?.url;
  }

  /** The dashboard's local address (tests, `hcp start`). */
  get dashboardUrl(): string | undefined {
    return this.parts.dashboard?.http.url;
  }

  /** Scans the fleet for faults now rather than at the next interval (tests, the hall view's fault buttons). */
  scanFaults(): Promise<void> {
    return this.parts.alerts.faults.scanNow();
  }

  /** Re-reads the roster file (SIGHUP). */
  async reloadRoster(): Promise<unknown> {
    return this.config.terminals.rosterFile ? this.registry.applyRoster(this.config.terminals.rosterFile) : { applied: 0 };
  }

  #stopping: Promise<void> | undefined;

  /** The batch in flight is committed and acknowledged; then everything closes. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const { http, rateLater, province, dashboard, alerts, heartbeat, session, staffStars } = this.parts;
      await http.stop();
      await rateLater?.stop();
      await dashboard?.http.stop();
      await dashboard?.changes.stop();
      await province?.worker.stop();
      await alerts.faults.stop();
      await alerts.notifier.stop();
      await staffStars?.stop();
      await heartbeat.stop();
      await this.ingest.stop();
      await session.stop();
      await this.db.close();
    })();
    return this.#stopping;
  }
}

/** Alerts on every instance: the notifier sends what any instance raised (claims keep each send to one), the scanner raises fleet faults. */
async function startAlerts(
  config: GatewayConfig,
  parts: { db: Database; channels: ReturnType<typeof channelsFromConfig>; clock: Clock; logger: Logger },
): Promise<GatewayParts['alerts']> {
  const labels = new Map(config.terminals.config.reasonCatalog?.reasons.map((r) => [r.code, r.label]) ?? []);
  const notifier = new AlertNotifier({
    db: parts.db,
    channels: parts.channels,
    instance: config.instance,
    clock: parts.clock,
    logger: parts.logger,
    repeatMinutes: config.alerts.repeatMinutes,
    maxRepeats: config.alerts.maxRepeats,
    timeZone: config.timeZone,
    dashboardUrl: config.dashboard?.publicUrl,
    reasonLabel: (code) => labels.get(code),
  });
  const faults = new FaultScanner({ db: parts.db, clock: parts.clock, logger: parts.logger, settings: config.alerts.faults, onRaised: () => notifier.kick() });
  await notifier.start();
  faults.start();
  return { notifier, faults };
}

/** The managers' dashboard: accounts' sessions, the change watch its pages follow live, its HTTP server. */
async function startDashboard(
  config: GatewayConfig,
  settings: NonNullable<GatewayConfig['dashboard']>,
  parts: { db: Database; calendar: ReturnType<typeof loadWorkingCalendar>; reasonCatalog: ReasonCatalog | undefined; clock: Clock; logger: Logger },
): Promise<NonNullable<GatewayParts['dashboard']>> {
  const changes = new ChangeWatch({ db: parts.db, clock: parts.clock, timers: hostTimers, logger: parts.logger });
  changes.start();
  try {
    const http = await startDashboardHttp({
      db: parts.db,
      host: settings.host,
      port: settings.port,
      sessions: new Sessions({ db: parts.db, clock: parts.clock, sessionHours: settings.sessionHours }),
      timeZone: config.timeZone,
      ...(settings.publicUrl && { publicUrl: settings.publicUrl }),
      trustForwardedFor: settings.trustForwardedFor,
      cancelsPerDay: config.misuse.cancelsPerDay,
      followUp: config.alerts.followUp,
      calendar: parts.calendar,
      reasonCatalog: parts.reasonCatalog,
      changes,
      clock: parts.clock,
      logger: parts.logger,
    });
    return { http, changes };
  } catch (err) {
    await changes.stop();
    throw err;
  }
}

/** The operator token changes (approve, revoke, retry) need, from its own file (never in the config itself). */
function readToken(config: GatewayConfig): string | undefined {
  const path = config.http.tokenFile;
  if (path === undefined) return undefined;
  try {
    return readSecretFile(path, { ownerOnly: true });
  } catch (err) {
    throw new ConfigError(`http.tokenFile: cannot use ${path}: ${(err as Error).message}`, []);
  }
}
