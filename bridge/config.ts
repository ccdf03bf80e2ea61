import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { explain } from '../protocol/issues.js';
import { BUTTON_COUNT } from '../protocol/grades.js';
import { areaCodeSchema, terminalIdSchema } from '../protocol/records.js';
import { SETTINGS } from '../protocol/settings.js';
import { printerProfileSchema } from './printer/receipt-layout.js';
import { screenConfigSchema } from './screen/config.js';
import { printerAddressSchema, terminalAddressSchema } from './transport/address.js';
import { voiceConfigSchema } from './voice/config.js';

/** A serial line's speed: what a UART can be set to (the kernel takes up to 4 Mbit/s on the Pi's). */
const baudRateSchema = z.number().int('expected a baud rate, e.g. 115200').min(50).max(4_000_000);

/** An Arduino digital pin. */
const arduinoPinSchema = z
  .number()
  .int('expected an Arduino pin number, e.g. 2 for D2')
  .min(2, 'D0 and D1 carry the USB serial line to the Arduino: use pins from 2 up')
  .max(127, 'expected an Arduino pin number, e.g. 2 for D2');

const boardPinsSchema = z
  .strictObject({
    /** Left to right: 非常满意 … 非常不满意, each wired from the pin to ground. */
    buttons: z.array(arduinoPinSchema).length(BUTTON_COUNT, `expected ${BUTTON_COUNT} button pins, left to right (非常满意 … 非常不满意)`),
    /** The LED above each button, in the same order. */
    leds: z.array(arduinoPinSchema).length(BUTTON_COUNT, `expected ${BUTTON_COUNT} LED pins, one above each button, in the same order`),
    buzzer: arduinoPinSchema.optional(),
  })
  .superRefine((pins, ctx) => {
    const users = new Map<number, string>();
    const use = (pin: number, who: string, path: (string | number)[]): void => {
      const first = users.get(pin);
      if (first) ctx.addIssue({ code: 'custom', path, message: `pin ${pin} is already used by ${first}` });
      else users.set(pin, who);
    };
    pins.buttons.forEach((pin, i) => use(pin, `button ${i + 1}`, ['buttons', i]));
    pins.leds.forEach((pin, i) => use(pin, `LED ${i + 1}`, ['leds', i]));
    if (pins.buzzer !== undefined) use(pins.buzzer, 'the buzzer', ['buzzer']);
  });

const boardSchema = z.strictObject({
  /** How the bridge reaches the board; Firmata over USB is the one supported (see docs/wiring.md). */
  io: z
    .literal('firmata', { error: 'expected "firmata" (an Arduino running StandardFirmata over USB; no Raspberry Pi GPIO plugin is supported, see docs/wiring.md)' })
    .default('firmata'),
  path: z.string().min(1, "the Arduino's serial port path is required, e.g. /dev/ttyACM0"),
  /** StandardFirmata's speed. */
  baudRate: baudRateSchema.default(57600),
  pins: boardPinsSchema,
  /** Buttons wired to ground with the Arduino's pull-up enabled: pressed reads LOW. */
  buttonPullup: z.boolean().default(true),
  /** Where unacknowledged reports survive a restart. Default: terminal-journal.json beside the database. */
  journalPath: z.string().min(1).optional(),
});

/**
 * The broker password: one line of printable text (a file's or a prompt's line break, a NUL or
 * an escape is a mistake, never part of it), long enough for a token (a JWT) and no longer.
 */
export const mqttPasswordSchema = z
  .string()
  .min(1, 'is empty')
  .max(4096, 'is longer than 4096 characters: is it the right file?')
  // eslint-disable-next-line no-control-regex
  .refine((password) => !/[\u0000-\u001f\u007f]/.test(password), 'contains a control character (a line break inside, a NUL, an escape): a password is one line of text');

/** An account's password is given inline or, better, in a file of its own (mode 600), not both. */
function passwordOrFile(account: { password?: string | undefined; passwordFile?: string | undefined }, ctx: z.RefinementCtx): void {
  if (account.password !== undefined && account.passwordFile !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give password or passwordFile, not both' });
  }
}

const bridgeConfigObjectSchema = z.strictObject({
  terminal: z.strictObject({
    id: terminalIdSchema,
    areaCode: areaCodeSchema,
    hallCode: z.string().min(1).max(64),
    hallName: z.string().min(1).max(100).optional(),
    windowNo: z.string().min(1).max(16),
  }),
  /** A terminal on a serial line (its own MCU runs the firmware). Give this or board. */
  serial: z
    .strictObject({
      path: terminalAddressSchema,
      baudRate: baudRateSchema.default(115200),
    })
    .optional(),
  /** The terminal's buttons, LEDs and buzzer on an Arduino running StandardFirmata; this process runs the firmware. */
  board: boardSchema.optional(),
  mqtt: z.strictObject({
    url: z.url({ protocol: /^(mqtts?|wss?)$/, error: 'expected a broker URL such as mqtts://host:8883' }),
    username: z.string().optional(),
    password: mqttPasswordSchema.optional(),
    /** A file holding the password (one line, mode 600; what `hcp provision` writes): read when the bridge connects. */
    passwordFile: z.string().min(1).optional(),
    clientId: z.string().min(1).max(128).optional(),
    /** A separate account for doctor's broker probe (it needs no topic rights), so that doctor can connect while the service runs. */
    probe: z
      .strictObject({ username: z.string().min(1), password: mqttPasswordSchema.optional(), passwordFile: z.string().min(1).optional() })
      .superRefine(passwordOrFile)
      .optional(),
    /** TLS (mqtts://, wss://): PEM files for the CA that signed the broker, and this terminal's client certificate and key. */
    tls: z
      .strictObject({
        ca: z.string().min(1).optional(),
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
      })
      // Said at the one that is missing, so that provision can name its flag.
      .superRefine((tls, ctx) => {
        if (tls.cert !== undefined && tls.key === undefined) ctx.addIssue({ code: 'custom', path: ['key'], message: 'a client certificate needs its key: give both or neither' });
        if (tls.key !== undefined && tls.cert === undefined) ctx.addIssue({ code: 'custom', path: ['cert'], message: 'a key needs its client certificate: give both or neither' });
      })
      .optional(),
    ...SETTINGS.mqtt,
  }).superRefine(passwordOrFile),
  database: z.strictObject({
    path: z
      .string()
      .min(1, 'required: the database file, e.g. /var/lib/hcp/hcp.db')
      // SQLite would take these as a database in memory: every record lost at the next restart.
      .refine((path) => path !== ':memory:' && !path.startsWith('file:'), 'expected a file the records survive a restart in, e.g. /var/lib/hcp/hcp.db (not an in-memory database)'),
    ...SETTINGS.database,
  }),
  /** The receipt printer (办件回执); leave out for a terminal without one. */
  printer: z
    .strictObject({
      /** A serial port, tcp://host:9100 (a network printer) or /dev/usb/lp0 (a USB printer). */
      path: printerAddressSchema,
      baudRate: baudRateSchema.default(9600),
      profile: printerProfileSchema.default(printerProfileSchema.parse({})),
      /** The province's page for rating later; the receipt's QR carries it with a signed token. */
      evaluationUrl: z.url({ protocol: /^https?$/, error: 'expected the evaluation page URL, e.g. https://hcp.province.example/rate' }),
      /** The terminal's Ed25519 signing key (PEM); made on first start. Default: beside the database. */
      keyFile: z.string().min(1).optional(),
      ...SETTINGS.printer,
    })
    .optional(),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Bearer token the API requires (the console asks for it); required beyond localhost. */
      token: z.string().min(16, 'http.token: at least 16 characters').optional(),
      /** Names, besides localhost and 127.x, the window PC may open the API under (no port: it is http.port). */
      allowedHosts: z
        .array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/, 'a host name or address without port, e.g. window3.hall.local or 192.168.1.23').transform((name) => name.toLowerCase().replace(/\.$/, '')))
        .default([]),
      /** A file holding the business system's own token (16+ characters): it signs staff in without a PIN. */
      businessTokenFile: z.string().min(1).optional(),
      /** A file holding the technician's token (16+ characters): `test` invitations need it. */
      technicianTokenFile: z.string().min(1).optional(),
      /** Lets staff sign in unchecked until the province sends a roster; off (refused) unless a technician sets it. */
      allowUnverifiedStaff: z.boolean().default(false),
    })
    .prefault({})
    .refine((http) => isLoopbackHost(http.host) || http.token !== undefined, {
      message: 'a token is required when the API listens beyond localhost: set http.token (16+ characters)',
      path: ['token'],
    }),
  /** Spoken prompts (docs/audio.md); left out, none. */
  voice: voiceConfigSchema.optional(),
  /** The customer screen page (docs/customer-screen.md); left out, none is served. */
  screen: screenConfigSchema.optional(),
  invitation: z.strictObject({ ...SETTINGS.invitation, flags: z.strictObject(SETTINGS.invitationFlags).prefault({}) }).prefault({}),
  clock: z.strictObject(SETTINGS.clock).prefault({}),
  log: z.strictObject(SETTINGS.log).prefault({}),
});

/**
 * The bridge's one config file (YAML or JSON). Every field is checked here, before anything starts;
 * the terminal is reached through exactly one of `serial` and `board`.
 */
export const bridgeConfigSchema = bridgeConfigObjectSchema.superRefine((config, ctx) => {
  if (!config.serial && !config.board) {
    ctx.addIssue({
      code: 'custom',
      path: ['serial'],
      message: 'the terminal connection is required: give serial (a terminal on a serial line) or board (its buttons on an Arduino running StandardFirmata)',
    });
  }
  if (config.serial && config.board) {
    ctx.addIssue({ code: 'custom', path: ['board'], message: 'give serial or board, not both: a bridge serves one terminal' });
  }
  const terminalPath = config.serial?.path ?? config.board?.path;
  if (config.printer && config.printer.path === terminalPath) {
    ctx.addIssue({ code: 'custom', path: ['printer', 'path'], message: `${terminalPath} is the terminal's port; the printer needs its own` });
  }
});
export type BridgeConfig = z.infer<typeof bridgeConfigSchema>;
export type BridgeConfigInput = z.input<typeof bridgeConfigSchema>;

export type BoardConfig = NonNullable<BridgeConfig['board']>;

/** The serial port the bridge reaches its terminal through: the terminal's line, or the Arduino's. */
export function terminalPort(config: BridgeConfig): { path: string; baudRate: number } {
  const port = config.serial ?? config.board;
  // The schema's refinement guarantees one of them.
  if (!port) throw new Error('config has neither serial nor board');
  return { path: port.path, baudRate: port.baudRate };
}

/**
 * A name that reaches only this machine: `localhost` (any case, a trailing dot allowed), `::1` or
 * `[::1]`, or a dotted 127.x.x.x. The one check for the API's bind host, the Host header and the
 * broker URL.
 */
export function isLoopbackHost(name: string): boolean {
  const host = name.toLowerCase().replace(/\.$/, '');
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(problems.length ? `${message}\n${problems.map((p) => `  - ${p}`).join('\n')}` : message);
    this.name = 'ConfigError';
  }
}

export function parseConfig(input: unknown, source = 'config'): BridgeConfig {
  const result = explain(bridgeConfigSchema, input);
  if (!result.ok) throw new ConfigError(`${source} is invalid:`, result.problems);
  return result.data;
}

/** Far larger than any config: the bound that makes a wrong --config (a log, a disk image) a refusal, not a long read. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The config file's text. Anything but a regular file is refused before it is opened: a FIFO
 * would wait for a writer, /dev/zero would never end.
 */
export function readConfigText(path: string): string {
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new ConfigError(`config file ${path} is not a regular file (${stat.isDirectory() ? 'a folder' : 'a device, FIFO or socket'}): give the YAML or JSON config, e.g. /etc/hcp/bridge.yaml`, []);
    if (stat.size > MAX_CONFIG_BYTES) throw new ConfigError(`config file ${path} is ${stat.size} bytes: a config file is at most ${MAX_CONFIG_BYTES}; is this the right file?`, []);
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, []);
  }
}

/** A YAML (or JSON) config file's contents, not yet checked: the bridge's, the gateway's. */
export function readConfigDocument(path: string): unknown {
  const text = readConfigText(path);
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML/JSON: ${(err as Error).message}`, []);
  }
}

export function loadConfigFile(path: string): BridgeConfig {
  return parseConfig(readConfigDocument(path), `config file ${path}`);
}
