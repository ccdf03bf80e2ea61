import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { explain } from '../protocol/issues.js';
import { BUTTON_COUNT } from '../protocol/grades.js';
import { areaCodeSchema, terminalIdSchema } from '../protocol/records.js';
import { SETTINGS } from '../protocol/settings.js';
import { HEADER_GPIO_COUNT, headerName, RESERVED_GPIO, UART_GPIO } from '../firmware/adapters/gpio/header.js';
import { BIASES, type Bias } from '../firmware/adapters/gpio/lines.js';
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

/** A line of the Raspberry Pi's header, by BCM GPIO number. */
const gpioPinSchema = z
  .number()
  .int('expected a BCM GPIO number, e.g. 17 for GPIO 17 (header pin 11)')
  .min(0, `expected a BCM GPIO number from 2 to ${HEADER_GPIO_COUNT - 1}`)
  .max(HEADER_GPIO_COUNT - 1, `expected a BCM GPIO number from 2 to ${HEADER_GPIO_COUNT - 1} (the header has no GPIO above ${HEADER_GPIO_COUNT - 1})`)
  .refine((pin) => !RESERVED_GPIO.has(pin), { error: (issue) => `${headerName(issue.input as number)} is ${RESERVED_GPIO.get(issue.input as number)}` });

/** The terminal's wiring: five buttons, an LED above each, an optional buzzer; no pin used twice (`name` says a pin to a person). */
function terminalPinsSchema(pin: z.ZodType<number>, name: (pin: number) => string) {
  return z
    .strictObject({
      /** Left to right: 非常满意 … 非常不满意, each wired from the pin to ground. */
      buttons: z.array(pin).length(BUTTON_COUNT, `expected ${BUTTON_COUNT} button pins, left to right (非常满意 … 非常不满意)`),
      /** The LED above each button, in the same order. */
      leds: z.array(pin).length(BUTTON_COUNT, `expected ${BUTTON_COUNT} LED pins, one above each button, in the same order`),
      buzzer: pin.optional(),
    })
    .superRefine((pins, ctx) => {
      const users = new Map<number, string>();
      const use = (at: number, who: string, path: (string | number)[]): void => {
        const first = users.get(at);
        if (first) ctx.addIssue({ code: 'custom', path, message: `${name(at)} is already used by ${first}` });
        else users.set(at, who);
      };
      pins.buttons.forEach((at, i) => use(at, `button ${i + 1}`, ['buttons', i]));
      pins.leds.forEach((at, i) => use(at, `LED ${i + 1}`, ['leds', i]));
      if (pins.buzzer !== undefined) use(pins.buzzer, 'the buzzer', ['buzzer']);
    });
}

/** Where unacknowledged reports survive a restart. Default: terminal-journal.json beside the database. */
const journalPathSchema = z.string().min(1).optional();

const firmataBoardSchema = z.strictObject({
  /** An Arduino running StandardFirmata, over USB. */
  io: z.literal('firmata'),
  path: z.string().min(1, "the Arduino's serial port path is required, e.g. /dev/ttyACM0"),
  /** StandardFirmata's speed. */
  baudRate: baudRateSchema.default(57600),
  pins: terminalPinsSchema(arduinoPinSchema, (pin) => `pin ${pin}`),
  /** Buttons wired to ground with the Arduino's pull-up enabled: pressed reads LOW. */
  buttonPullup: z.boolean().default(true),
  journalPath: journalPathSchema,
});

/** How the GPIO chip is named: 'auto', a device path, gpiochipN, or a label such as pinctrl-rp1. */
const gpioChipSchema = z
  .string()
  .min(1, "expected 'auto', a chip path such as /dev/gpiochip0, or a label such as pinctrl-rp1")
  .max(128, 'a chip name is at most 128 characters')
  .regex(/^[A-Za-z0-9/_.@:,+-]+$/, "expected 'auto', a chip path such as /dev/gpiochip0, or a label such as pinctrl-rp1 (letters, digits and / _ . @ : , + - only)")
  .refine((chip) => !chip.startsWith('-'), "a chip name cannot start with '-'")
  .refine((chip) => !chip.startsWith('/') || /^\/dev\/gpiochip\d+$/.test(chip), 'a chip path is /dev/gpiochipN (gpiodetect lists them)');

const gpioBoardSchema = z.strictObject({
  /** The Raspberry Pi's own GPIO header, through the character device (Debian's libgpiod tools). */
  io: z.literal('gpio'),
  /** 'auto': the header's chip, found by its label (pinctrl-rp1 on a Pi 5, pinctrl-bcm2711 on a Pi 4, pinctrl-bcm2835 before). */
  chip: gpioChipSchema.default('auto'),
  /** BCM GPIO numbers (not header pin numbers): docs/wiring.md has both. */
  pins: terminalPinsSchema(gpioPinSchema, headerName),
  /** pull-up: buttons between their GPIO and ground (pressed reads low); pull-down: buttons to 3.3 V; none: external pull-ups, buttons to ground. */
  bias: z.enum(BIASES as [Bias, ...Bias[]], { error: 'expected pull-up (buttons to ground, the usual), pull-down (buttons to 3.3 V) or none (external pull-up resistors)' }).default('pull-up'),
  /** Edges closer than this are merged by the kernel (libgpiod 2; 1.6 cannot ask it: the firmware's own debounce still applies). */
  debounceMs: z.number().int('expected whole milliseconds').min(0).max(1000, 'at most 1000 ms: a longer debounce swallows real presses').default(10),
  journalPath: journalPathSchema,
});

const BOARD_IO_EXPECTED = 'expected "firmata" (an Arduino running StandardFirmata over USB) or "gpio" (the Raspberry Pi\'s own GPIO header; see docs/wiring.md)';

/** The terminal's buttons, LEDs and buzzer run by this process: on an Arduino (io firmata, the default) or the Pi's own GPIO (io gpio). */
const boardSchema = z.preprocess(
  (board) => (board !== null && typeof board === 'object' && !Array.isArray(board) && !('io' in board) ? { ...board, io: 'firmata' } : board),
  z.discriminatedUnion('io', [firmataBoardSchema, gpioBoardSchema], { error: (issue) => (issue.code === 'invalid_union' ? BOARD_IO_EXPECTED : undefined) }),
);

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
  /** The terminal's buttons, LEDs and buzzer on an Arduino running StandardFirmata or on the Pi's own GPIO; this process runs the firmware. */
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
      message: 'the terminal connection is required: give serial (a terminal on a serial line) or board (its buttons on an Arduino running StandardFirmata, or on the Pi\'s own GPIO)',
    });
  }
  if (config.serial && config.board) {
    ctx.addIssue({ code: 'custom', path: ['board'], message: 'give serial or board, not both: a bridge serves one terminal' });
  }
  const terminalPath = config.board ? terminalPort(config).path : config.serial?.path;
  if (config.printer && config.printer.path === terminalPath) {
    ctx.addIssue({ code: 'custom', path: ['printer', 'path'], message: `${terminalPath} is the terminal's port; the printer needs its own` });
  }
  // A printer on the Pi's own UART (GPIO 14 and 15) leaves those lines to it.
  if (config.board?.io === 'gpio' && config.printer && PI_UART_PATH.test(config.printer.path)) {
    const { pins } = config.board;
    const wired: [number, (string | number)[]][] = [...pins.buttons.map((pin, i): [number, (string | number)[]] => [pin, ['buttons', i]]), ...pins.leds.map((pin, i): [number, (string | number)[]] => [pin, ['leds', i]])];
    if (pins.buzzer !== undefined) wired.push([pins.buzzer, ['buzzer']]);
    for (const [pin, path] of wired) {
      if (UART_GPIO.includes(pin)) {
        ctx.addIssue({ code: 'custom', path: ['board', 'pins', ...path], message: `${headerName(pin)} carries the Pi's UART, which printer.path ${config.printer.path} uses: choose another GPIO` });
      }
    }
  }
});

/** The Pi's own UART on GPIO 14 and 15, under its names. */
const PI_UART_PATH = /^\/dev\/(serial0|ttyAMA0|ttyS0)$/;
export type BridgeConfig = z.infer<typeof bridgeConfigSchema>;
export type BridgeConfigInput = z.input<typeof bridgeConfigSchema>;

export type BoardConfig = NonNullable<BridgeConfig['board']>;
export type FirmataBoardConfig = Extract<BoardConfig, { io: 'firmata' }>;
export type GpioBoardConfig = Extract<BoardConfig, { io: 'gpio' }>;

/** The speed of the in-process line to a terminal on the Pi's GPIO: a number the link needs, never on a wire. */
const GPIO_LINE_BAUD = 115200;

/**
 * The port the bridge reaches its terminal through: the terminal's line, the Arduino's, or (a
 * terminal on the Pi's GPIO) the name its in-process port is opened by: the chip's path as
 * configured, /dev/gpiochip* for 'auto', /dev/gpiochip*[label] for a label. Shown in status and logs.
 */
export function terminalPort(config: Pick<BridgeConfig, 'serial' | 'board'>): { path: string; baudRate: number } {
  const { board } = config;
  if (board?.io === 'gpio') return { path: gpioTerminalPath(board.chip), baudRate: GPIO_LINE_BAUD };
  const port = config.serial ?? board;
  // The schema's refinement guarantees one of them.
  if (!port) throw new Error('config has neither serial nor board');
  return { path: port.path, baudRate: port.baudRate };
}

function gpioTerminalPath(chip: string): string {
  if (chip.startsWith('/')) return chip;
  if (/^gpiochip\d+$/.test(chip)) return `/dev/${chip}`;
  return chip === 'auto' ? '/dev/gpiochip*' : `/dev/gpiochip*[${chip}]`;
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
