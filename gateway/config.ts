import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError, mqttPasswordSchema, readConfigDocument } from '../bridge/config.js';
import { explain } from '../protocol/issues.js';
import { gradeCodeProfileNameSchema } from '../protocol/grades.js';
import { reasonCatalogSchema } from '../protocol/province-config.js';
import { DEFAULT_TOPIC_PREFIX } from '../protocol/topics.js';

/** The gateway's config file (gateway.yaml), documented field by field in docs/gateway.md. */

const port = z.number().int().min(0).max(65535);

const mqttSchema = z
  .strictObject({
    url: z.url({ protocol: /^(mqtts?|wss?)$/, error: 'expected a broker URL such as mqtts://broker:8883' }),
    username: z.string().min(1).optional(),
    password: mqttPasswordSchema.optional(),
    /** A file holding the password on one line (mode 600): read at connect. */
    passwordFile: z.string().min(1).optional(),
    tls: z.strictObject({ ca: z.string().min(1).optional(), cert: z.string().min(1).optional(), key: z.string().min(1).optional() }).optional(),
    topicPrefix: z.string().min(1).default(DEFAULT_TOPIC_PREFIX),
    /** 5 (MQTT 5, the default) or 4 (MQTT 3.1.1, for brokers that share subscriptions only there). */
    protocolVersion: z.union([z.literal(5), z.literal(4)]).default(5),
    /**
     * Instances with the same group split the terminals' records between them
     * (`$share/<group>/…`). null: a plain subscription, for one instance on a broker without
     * shared subscriptions (the embedded broker of `hcp start`).
     */
    sharedGroup: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a share name: 1-64 letters, digits, "_" or "-" (no "/", "+" or "#")')
      .nullable()
      .default('hcp-gateway'),
    /**
     * How long the broker keeps this instance's session (and queues its share of the messages)
     * while it is away. 0 (the default): a clean session; nothing is lost either way, since the
     * bridges publish again what no gateway acknowledged, and a stopped instance holds no share.
     */
    sessionExpirySeconds: z.number().int().min(0).max(7 * 86_400).default(0),
    keepaliveSeconds: z.number().int().min(5).max(3600).default(30),
  })
  .superRefine((mqtt, ctx) => {
    if (mqtt.password !== undefined && mqtt.passwordFile !== undefined) ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give password or passwordFile, not both' });
  });

const databaseSchema = z
  .strictObject({
    /** PostgreSQL, e.g. postgres://hcp@db.example/hcp (no password here: put a URL with one in urlFile). */
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected postgres://user@host:port/database')
      .refine((url) => !/^postgres(ql)?:\/\/[^/@]*:[^/@]*@/.test(url), 'holds a password: put the URL in a file of its own (database.urlFile, mode 600) so that it is in no config shown around')
      .optional(),
    /** A file (mode 600) holding the PostgreSQL URL with its password. */
    urlFile: z.string().min(1).optional(),
    /** Without url or urlFile: the embedded database (PGlite) in this folder. */
    dataDir: z.string().min(1).optional(),
    /** Connections per instance to PostgreSQL. */
    poolSize: z.number().int().min(1).max(100).default(6),
  })
  .superRefine((db, ctx) => {
    const given = [db.url, db.urlFile, db.dataDir].filter((v) => v !== undefined).length;
    if (given !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of url (PostgreSQL), urlFile (PostgreSQL, URL in a file) or dataDir (the embedded database)' });
  });

const ingestSchema = z.strictObject({
  /** Most records stored in one transaction. */
  maxBatch: z.number().int().min(1).max(10_000).default(500),
  /** Records received and not yet stored at most; beyond it the oldest are let go unacknowledged (their bridges publish them again). */
  maxQueue: z.number().int().min(100).max(1_000_000).default(50_000),
  /** Batches settled at once on PostgreSQL, each in its own transaction and connection (keep database.poolSize above it); PGlite settles one at a time. */
  concurrency: z.number().int().min(1).max(16).default(3),
  /**
   * On PostgreSQL, the records' Ed25519 signatures are checked on a thread of their own, beside the
   * transactions, rather than between their statements (about a third of the main thread's work
   * per record). PGlite's one-hall gateways check them on the main thread.
   */
  verifyThread: z.boolean().default(true),
});

const terminalsSchema = z.strictObject({
  /**
   * manual: every new terminal waits for an operator (hcp gateway terminals approve, or the
   * roster file). first-key: the first key a terminal brings is approved (a lab or a demo); a
   * different key later still waits for the operator.
   */
  approval: z.enum(['manual', 'first-key']).default('manual'),
  /** A YAML file listing approved terminals and their keys, applied at start and on SIGHUP. */
  rosterFile: z.string().min(1).optional(),
  /** Published retained on each approved terminal's `…/config`. */
  config: z
    .strictObject({
      reasonCatalog: reasonCatalogSchema.optional(),
      /** A staff roster file (YAML or JSON, the province's format: protocol/province-config.ts). */
      staffRosterFile: z.string().min(1).optional(),
      /** How the province numbers grades: the terminals lay their records out with it (in place of their own mqtt.gradeProfile). */
      gradeProfile: gradeCodeProfileNameSchema.optional(),
    })
    .default({}),
});

const httpSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8470),
  /** A file (mode 600) holding the operator token that changes (approve, revoke, retry) need. */
  tokenFile: z.string().min(1).optional(),
});

const provinceSchema = z.strictObject({
  /** The province profile (YAML): endpoints, keys, codes, pace (gateway/province/profile.ts, docs/province-profile.md). */
  profileFile: z.string().min(1),
  /** false: every record is queued for the province, nothing is sent yet (a hall not yet connected). */
  deliver: z.boolean().default(true),
});

const rateLaterSchema = z.strictObject({
  /** The page citizens reach from a receipt's QR code; behind the hall's HTTPS reverse proxy in production. */
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8471),
  /** The page's address as a citizen's phone reaches it: what the receipts' QR codes lead to. */
  publicUrl: z.url({ protocol: /^https?$/, error: 'expected the page address, such as https://hall.example.gov.cn/rate' }),
  /** Behind the hall's reverse proxy: rate limits go by the last X-Forwarded-For address (the proxy's own addition), not the proxy's. */
  trustForwardedFor: z.boolean().default(false),
  /** How long a case closed not rated at the counter is listed on its window's QR-sign page (docs/gateway.md). */
  windowRecentMinutes: z.number().int().min(1).max(1440).default(15),
});

const dashboardSchema = z.strictObject({
  /** The hall's dashboard, for managers (never the window): behind the hall's HTTPS reverse proxy in production. */
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8472),
  /** The dashboard's address as managers reach it: the link in alert messages, and (https) cookies marked Secure. */
  publicUrl: z.url({ protocol: /^https?$/, error: 'expected the dashboard address, such as https://hall.example.gov.cn/dashboard' }).optional(),
  /** A session ends this long after sign-in (and at logout). */
  sessionHours: z.number().int().min(1).max(720).default(12),
  /** Behind the hall's reverse proxy: sign-in limits go by the last X-Forwarded-For address, not the proxy's. */
  trustForwardedFor: z.boolean().default(false),
});

/** Where alerts go. A robot's webhook address holds its key: it is read from a file (mode 600), never kept in this config. */
const alertChannelSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('wecom'),
    name: z.string().min(1).max(64).optional(),
    /** A file holding the WeCom group robot's address (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…). */
    urlFile: z.string().min(1),
  }),
  z.strictObject({
    kind: z.literal('dingtalk'),
    name: z.string().min(1).max(64).optional(),
    /** A file holding the DingTalk robot's address (https://oapi.dingtalk.com/robot/send?access_token=…). */
    urlFile: z.string().min(1),
    /** A file holding the robot's signing secret (加签, SEC…), when the robot has one. */
    secretFile: z.string().min(1).optional(),
  }),
  z.strictObject({
    kind: z.literal('webhook'),
    name: z.string().min(1).max(64).optional(),
    url: z.url({ protocol: /^https?$/, error: 'expected the receiver address, such as https://ops.example/hcp-alerts' }),
    /** A file holding a secret: each body is then signed (HMAC-SHA256, docs/alerts.md). */
    secretFile: z.string().min(1).optional(),
  }),
]);

const alertsSchema = z.strictObject({
  channels: z.array(alertChannelSchema).max(16).default([]),
  /** An alert not acknowledged is sent again this often … */
  repeatMinutes: z.number().int().min(1).max(1440).default(15),
  /** … this many times at most after the first. */
  maxRepeats: z.number().int().min(0).max(100).default(8),
  faults: z
    .strictObject({
      /** A terminal offline (last will, or not heard from) this long. */
      offlineMinutes: z.number().int().min(1).max(10_080).default(10),
      /** A terminal's oldest record not yet acknowledged by the gateway is older than this. */
      backlogHours: z.number().min(0.1).max(720).default(2),
      clockUnsynced: z.boolean().default(true),
      paperOut: z.boolean().default(true),
    })
    .prefault({}),
  /** The bad reviews' follow-up clocks (DOMAIN: call-back within 1 working day, appeal within 5, rectification within 15). */
  followUp: z
    .strictObject({
      callbackWorkingDays: z.number().int().min(1).max(30).default(1),
      appealWorkingDays: z.number().int().min(1).max(30).default(5),
      rectifyWorkingDays: z.number().int().min(1).max(90).default(15),
      /** The working-day calendar (YAML: holidays and make-up working days, docs/alerts.md); without it Monday to Friday. */
      calendarFile: z.string().min(1).optional(),
    })
    .prefault({}),
});

/** The stars on the customer screen's staff card (gateway/stats/staff-stars.ts, docs/statistics.md "Staff stars"), sent in each terminal's config. */
const staffStarsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** The ratings of the last this many days count. */
  days: z.number().int().min(7).max(366).default(90),
  /** Fewer ratings than this in that span: no stars (too few to show). */
  minRatings: z.number().int().min(1).max(10_000).default(10),
  /** How often the stars are made again; terminals are sent them only when they changed. */
  refreshMinutes: z.number().int().min(5).max(1440).default(60),
});

const misuseSchema = z.strictObject({
  /** A staff member's cancelled invitations in one day from which that day's cancels are flagged many_cancels. */
  cancelsPerDay: z.number().int().min(2).max(1000).default(5),
});

const timeZoneSchema = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'expected an IANA time zone such as Asia/Shanghai');

export const gatewayConfigSchema = z.strictObject({
  /** This instance's name, unique among the instances on one database: its MQTT client id and its row in `instances`. */
  instance: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'an instance name: 1-64 letters, digits, ".", "_" or "-"')
    .default(() => hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64) || 'gateway'),
  mqtt: mqttSchema,
  database: databaseSchema,
  ingest: ingestSchema.prefault({}),
  terminals: terminalsSchema.default({ approval: 'manual', config: {} }),
  http: httpSchema.default({ host: '127.0.0.1', port: 8470 }),
  /** Delivery into the provincial 好差评 interface; without it, records are stored and nothing is sent. */
  province: provinceSchema.optional(),
  /** The rate-later page behind the receipts' QR codes; without it, not served. */
  rateLater: rateLaterSchema.optional(),
  /** The hall's time zone: the days of statistics and exports, the working days of follow-up clocks. */
  timeZone: timeZoneSchema.default('Asia/Shanghai'),
  /** The managers' dashboard (statistics, live windows, alerts, exports); without it, not served. */
  dashboard: dashboardSchema.optional(),
  alerts: alertsSchema.prefault({}),
  misuse: misuseSchema.prefault({}),
  staffStars: staffStarsSchema.prefault({}),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).default({ level: 'info' }),
}).superRefine((config, ctx) => {
  // Each ingest lane holds a connection for its transaction; the notifier, delivery, heartbeat and dashboard need one too.
  const postgres = config.database.url !== undefined || config.database.urlFile !== undefined;
  if (postgres && config.database.poolSize <= config.ingest.concurrency) {
    ctx.addIssue({
      code: 'custom',
      path: ['database', 'poolSize'],
      message: `${config.database.poolSize} connections leave none beside the ${config.ingest.concurrency} that ingest.concurrency holds for its batches (alerts, delivery and the dashboard would wait behind them): make poolSize at least ${config.ingest.concurrency + 1}, or lower ingest.concurrency`,
    });
  }
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;

export function parseGatewayConfig(input: unknown, source = 'gateway config'): GatewayConfig {
  const result = explain(gatewayConfigSchema, input);
  if (!result.ok) throw new ConfigError(`${source} is invalid:`, result.problems);
  return result.data;
}

export function loadGatewayConfig(path: string): GatewayConfig {
  return parseGatewayConfig(readConfigDocument(path), `config file ${path}`);
}
