import { BUTTON_COUNT } from '../../protocol/grades.js';
import { explain } from '../../protocol/issues.js';
import { bridgeConfigSchema } from '../config.js';

/*
 * What `hcp provision` asks for, each answer a flag too. Every value is checked by the bridge's
 * own config schema (the one `hcp run` loads with), so provision can never write a config that
 * the bridge would refuse, and a wrong value is refused with the schema's own message.
 */

export interface ProvisionField {
  /** The flag, without `--`. */
  flag: string;
  /** Where it goes in the config. */
  path: readonly string[];
  /** The question, for the interactive mode. */
  ask: string;
  /** Offered when the technician just presses Enter. */
  default?: string;
  /** May be left empty. */
  optional?: boolean;
  /** Not echoed back, not printed in the report. */
  secret?: boolean;
  /** Asked (and used) only when this holds of the answers so far; default always. */
  when?: (answers: Answers) => boolean;
  /** How the text answer becomes the config value. */
  parse?: (text: string) => unknown;
  /** Also set when the field is answered (the board's kind, which no one types). */
  implies?: { path: readonly string[]; value: unknown };
}

const withPrinter = (answers: Answers): boolean => Boolean(answers['printer-path']);
const withBoard = (answers: Answers): boolean => Boolean(answers['board-path']);
/** The GPIO chip is asked when neither an Arduino's port nor a serial line is given. */
const gpioAsked = (answers: Answers): boolean => !withBoard(answers) && !answers['serial-path'];
const withGpio = (answers: Answers): boolean => gpioAsked(answers) && Boolean(answers['gpio-chip']);
/** "2,3,4,5,6" → [2, 3, 4, 5, 6]; anything else is left for the schema to refuse. */
const pinList = (text: string): unknown => (/^\d+(\s*,\s*\d+)*$/.test(text) ? text.split(',').map((pin) => Number(pin.trim())) : text);
const wholeNumber = (text: string): unknown => (/^\d+$/.test(text) ? Number(text) : text);

export const PROVISION_FIELDS: readonly ProvisionField[] = [
  { flag: 'terminal-id', path: ['terminal', 'id'], ask: 'Terminal id (终端编号, as registered with the province)' },
  { flag: 'area-code', path: ['terminal', 'areaCode'], ask: 'Area code (行政区划代码, 6 digits)' },
  { flag: 'hall-code', path: ['terminal', 'hallCode'], ask: 'Hall code (大厅编码)' },
  { flag: 'hall-name', path: ['terminal', 'hallName'], ask: 'Hall name, printed on receipts (大厅名称)', optional: true },
  { flag: 'window', path: ['terminal', 'windowNo'], ask: 'Window number (窗口号)' },
  { flag: 'broker-url', path: ['mqtt', 'url'], ask: "Province broker URL (mqtts://host:8883)" },
  { flag: 'username', path: ['mqtt', 'username'], ask: 'Broker user name', optional: true },
  { flag: 'password', path: ['mqtt', 'password'], ask: 'Broker password', optional: true, secret: true },
  { flag: 'ca-file', path: ['mqtt', 'tls', 'ca'], ask: "CA certificate of the broker (PEM file), if it is not publicly trusted", optional: true },
  { flag: 'cert-file', path: ['mqtt', 'tls', 'cert'], ask: 'Client certificate (PEM file), if the broker wants one', optional: true },
  { flag: 'key-file', path: ['mqtt', 'tls', 'key'], ask: "Client certificate's private key (PEM file)", optional: true },
  {
    flag: 'board-path',
    path: ['board', 'path'],
    ask: 'Arduino (StandardFirmata) port, if the buttons are on an Arduino (empty: not on an Arduino)',
    optional: true,
  },
  ...pinFields({ flags: ['buttons', 'leds', 'buzzer'], pins: 'Arduino pins', pin: 'Arduino pin', defaults: ['2,3,4,5,6', '8,9,10,11,12', '7'], when: withBoard }),
  {
    flag: 'gpio-chip',
    path: ['board', 'chip'],
    ask: "GPIO chip, if the buttons are wired to the Pi's own header: auto (finds it), or gpiochip0, pinctrl-rp1, … (empty: a terminal with its own MCU)",
    optional: true,
    when: gpioAsked,
    implies: { path: ['board', 'io'], value: 'gpio' },
  },
  ...pinFields({ flags: ['gpio-buttons', 'gpio-leds', 'gpio-buzzer'], pins: 'BCM GPIO numbers', pin: 'BCM GPIO number', defaults: ['5,6,16,20,21', '17,27,22,23,24', '18'], when: withGpio }),
  {
    flag: 'serial-path',
    path: ['serial', 'path'],
    ask: "Terminal's port: its serial port, or tcp://host:port if it is reached through ser2net",
    default: '/dev/ttyACM0',
    when: (answers) => !withBoard(answers) && !withGpio(answers),
  },
  { flag: 'database', path: ['database', 'path'], ask: 'Database file', default: '/var/lib/hcp/hcp.db' },
  {
    flag: 'printer-path',
    path: ['printer', 'path'],
    ask: 'Receipt printer: a serial port (/dev/ttyUSB1), tcp://host:9100 (network) or /dev/usb/lp0 (USB); empty: no printer',
    optional: true,
  },
  {
    flag: 'printer-columns',
    path: ['printer', 'profile', 'columns'],
    ask: 'Paper width in characters: 32 (58 mm) or 48 (80 mm)',
    default: '32',
    when: withPrinter,
    parse: wholeNumber,
  },
  { flag: 'evaluation-url', path: ['printer', 'evaluationUrl'], ask: "Province's evaluation page for the receipt QR code", when: withPrinter },
];

export type Answers = Record<string, string>;

/** The button, LED and buzzer questions of one kind of board: the same three, its own flags, words and defaults. */
function pinFields(kind: { flags: [string, string, string]; pins: string; pin: string; defaults: [string, string, string]; when: (answers: Answers) => boolean }): ProvisionField[] {
  const [buttons, leds, buzzer] = kind.flags;
  const [buttonPins, ledPins, buzzerPin] = kind.defaults;
  const { when } = kind;
  return [
    { flag: buttons, path: ['board', 'pins', 'buttons'], ask: `${kind.pins} of the ${BUTTON_COUNT} buttons, left to right`, default: buttonPins, when, parse: pinList },
    { flag: leds, path: ['board', 'pins', 'leds'], ask: `${kind.pins} of the ${BUTTON_COUNT} LEDs, left to right`, default: ledPins, when, parse: pinList },
    { flag: buzzer, path: ['board', 'pins', 'buzzer'], ask: `${kind.pin} of the buzzer (usually ${buzzerPin}; empty: none)`, optional: true, when, parse: wholeNumber },
  ];
}

/** Good answers to everything, with an Arduino or the Pi's GPIO when the field is one of that board's. */
function soundAnswersFor(field: ProvisionField): Answers {
  if (field.path[0] !== 'board') return SOUND_ANSWERS;
  const { 'serial-path': _serial, ...rest } = SOUND_ANSWERS;
  return field.flag.startsWith('gpio-') ? { ...rest, 'gpio-chip': 'auto' } : { ...rest, 'board-path': '/dev/ttyACM0' };
}

/** Good answers to everything (with a printer, without an Arduino): the background one field is checked against. */
export const SOUND_ANSWERS: Answers = {
  'terminal-id': 'T-1',
  'area-code': '330106',
  'hall-code': 'H',
  window: '1',
  'broker-url': 'mqtts://broker.example:8883',
  'serial-path': '/dev/ttyACM0',
  database: '/var/lib/hcp/hcp.db',
  'printer-path': '/dev/ttyUSB0',
  'evaluation-url': 'https://hcp.example/rate',
};

/** The config the answers make (blank optional answers left out). */
export function configFromAnswers(answers: Answers): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const field of PROVISION_FIELDS) {
    const text = answers[field.flag];
    if (text === undefined || text === '') continue;
    if (field.when && !field.when(answers)) continue;
    setIn(config, field.path, field.parse ? field.parse(text) : text);
    if (field.implies) setIn(config, field.implies.path, field.implies.value);
  }
  return config;
}

/**
 * What is wrong with the answers, each problem named by its flag: "--area-code: administrative
 * area code (行政区划代码) must be 6 digits". `only` limits it to one field (checked as it is typed).
 */
export function answerProblems(answers: Answers, only?: ProvisionField): string[] {
  // One field alone: the others filled with good values, so that its problems are not crowded out.
  const checked = only ? { ...soundAnswersFor(only), [only.flag]: answers[only.flag] ?? '' } : answers;
  // Said by flag before the schema speaks: it would name a missing section ("terminal: required"), not its flags.
  // (A field with a default is left to the schema: the config may have a default for it too.)
  const missing = PROVISION_FIELDS.filter((f) => !f.optional && f.default === undefined && asked(f, checked) && !checked[f.flag] && (!only || f === only));
  const problems = missing.map((f) => `--${f.flag}: required`);
  const result = explain(bridgeConfigSchema, configFromAnswers(checked));
  if (result.ok) return problems;
  for (const line of result.problems) {
    const where = line.slice(0, line.indexOf(': '));
    const fields = fieldsOf(where, checked);
    // A missing field's problem, or its section's ("terminal: required"), is said above.
    if (fields.some((f) => missing.includes(f)) || (only && !fields.includes(only))) continue;
    const named = only ? [only] : fields;
    problems.push(named.length > 0 ? `${named.map((f) => `--${f.flag}`).join(', ')}: ${line.slice(where.length + 2)}` : line);
  }
  return problems;
}

const asked = (field: ProvisionField, answers: Answers): boolean => !field.when || field.when(answers);

/**
 * The field asked a problem is at or under (the longest path: the Arduino's and the Pi's pin
 * questions share theirs); else, for a problem about a whole
 * section ("board.pins: required"), the fields in it that are asked and not optional.
 */
function fieldsOf(where: string, answers: Answers): ProvisionField[] {
  const at = [...PROVISION_FIELDS]
    .sort((a, b) => b.path.length - a.path.length)
    .find((f) => asked(f, answers) && (where === f.path.join('.') || where.startsWith(`${f.path.join('.')}.`)));
  if (at) return [at];
  return PROVISION_FIELDS.filter((f) => f.path.join('.').startsWith(`${where}.`) && asked(f, answers) && !f.optional);
}

function setIn(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[path.at(-1)!] = value;
}
