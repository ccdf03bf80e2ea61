import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, statfsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { SerialPort } from 'serialport';
import { decodeStatus, isStatusByte, STATUS_REQUEST, type PrinterStatus } from '../../protocol/escpos.js';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import { deviceHelloSchema, SERIAL_PROTOCOL_VERSION } from '../../protocol/serial-messages.js';
import { FIRMWARE_VERSION } from '../../firmware/core/terminal-core.js';
import { ConfigError, loadConfigFile, terminalPort, type BridgeConfig } from '../config.js';
import { boardTerminalPort, openSystemSerialPort, type BoardTerminalDeps } from '../device/board-terminal.js';
import { silentLogger } from '../log.js';
import { storageStatus } from '../store/storage.js';
import { readTlsFiles } from '../uplink/tls-files.js';
import { timedatectlSynced } from '../time/wall-source.js';

/*
 * `hcp doctor --config FILE`: checks a terminal's setup without the bridge running. Each check is
 * a small function with its outside world injected, returning what it found and, for a problem,
 * the likely fix. None of them throws: a check that cannot tell says so.
 */

export type CheckLevel = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  level: CheckLevel;
  /** What was checked, e.g. "terminal port". */
  name: string;
  /** What was found. */
  message: string;
  /** For a problem: what to do about it (may be several lines). */
  fix?: string[];
}

const SYMBOL: Record<CheckLevel, string> = { ok: '✔', warn: '!', fail: '✘' };

const ok = (name: string, message: string): CheckResult => ({ level: 'ok', name, message });
const warn = (name: string, message: string, fix: string[] = []): CheckResult => ({ level: 'warn', name, message, fix });
const fail = (name: string, message: string, fix: string[] = []): CheckResult => ({ level: 'fail', name, message, fix });

export function formatResult(result: CheckResult): string {
  const lines = [`${SYMBOL[result.level]} ${result.name}: ${result.message}`];
  for (const fix of result.fix ?? []) lines.push(`    fix: ${fix}`);
  return lines.join('\n');
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---------------------------------------------------------------------------------------------
// config

export function checkConfig(path: string, load: (path: string) => BridgeConfig = loadConfigFile): { result: CheckResult; config?: BridgeConfig } {
  try {
    const config = load(path);
    return { result: ok('config', `${path} is valid (terminal ${config.terminal.id}, window ${config.terminal.windowNo})`), config };
  } catch (err) {
    if (err instanceof ConfigError) {
      const headline = err.message.split('\n')[0] ?? err.message;
      return {
        result: fail('config', headline, [
          ...err.problems,
          'compare with docs/bridge.example.yaml; every field is explained there',
        ]),
      };
    }
    return { result: fail('config', `cannot load ${path}: ${errorText(err)}`) };
  }
}

// ---------------------------------------------------------------------------------------------
// serial ports present

export interface PortListing {
  path: string;
  manufacturer?: string | undefined;
}

export interface SerialPortsDeps {
  /** serialport's SerialPort.list(): needs udev, so may throw or reject (e.g. in a container). */
  list: () => Promise<PortListing[]>;
  exists: (path: string) => boolean;
}

export const defaultSerialPortsDeps: SerialPortsDeps = {
  list: () => SerialPort.list(),
  exists: existsSync,
};

/** Lists the ports (if udev lets us), then checks the terminal's and the printer's port are there. */
export async function checkSerialPorts(config: BridgeConfig, deps: SerialPortsDeps = defaultSerialPortsDeps): Promise<CheckResult[]> {
  let listed: PortListing[] | undefined;
  let listError: string | undefined;
  try {
    listed = await withTimeout(Promise.resolve().then(() => deps.list()), 3000, 'listing serial ports timed out');
  } catch (err) {
    listError = errorText(err);
  }
  const wanted: Array<{ name: string; path: string; what: string; field: string }> = [
    config.board
      ? { name: 'terminal port', path: config.board.path, what: 'Arduino', field: 'board.path' }
      : { name: 'terminal port', path: terminalPort(config).path, what: 'terminal', field: 'serial.path' },
  ];
  if (config.printer) wanted.push({ name: 'printer port', path: config.printer.path, what: 'receipt printer', field: 'printer.path' });
  const available = listed?.map((p) => p.path).join(', ') || 'none';
  return wanted.map(({ name, path, what, field }) => {
    const entry = listed?.find((p) => p.path === path);
    let present = entry !== undefined;
    try {
      present ||= deps.exists(path);
    } catch {
      // treated as missing
    }
    if (present) {
      const how = entry ? (entry.manufacturer ? ` (${entry.manufacturer})` : '') : listed ? ' (not listed by udev: a pty, a built-in UART or a symlink)' : '';
      return ok(name, `${path} is present${how}`);
    }
    return fail(name, `${path} (the ${what}) is missing`, [
      `check the ${what}'s USB cable and power, then \`ls -l /dev/ttyUSB* /dev/ttyACM* /dev/serial/by-id/\` to see where it appeared`,
      listError ? `udev cannot list the ports here (${listError}): look in /dev yourself` : `look among the ports udev knows: ${available}`,
      `set ${field} in the config to that device (a /dev/serial/by-id/ path survives re-plugging)`,
      'the service user must be in the dialout group: `sudo usermod -aG dialout hcp`',
    ]);
  });
}

// ---------------------------------------------------------------------------------------------
// serial probes (terminal and printer)

/** The little of a serial port the probes use; serialport's SerialPort has it all. */
export interface ProbePort {
  open(callback: (err: Error | null) => void): void;
  write(data: string | Buffer): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  close(callback?: (err: Error | null) => void): void;
  readonly isOpen: boolean;
}

export type OpenProbePort = (path: string, baudRate: number) => ProbePort;

export const openSerialProbe: OpenProbePort = (path, baudRate) => new SerialPort({ path, baudRate, autoOpen: false }) as unknown as ProbePort;

/** Did opening fail because someone else (the bridge service) holds the port? */
export function isBusyError(err: unknown): boolean {
  return /cannot lock port|resource temporarily unavailable|EBUSY|EAGAIN|device or resource busy/i.test(errorText(err));
}

/** Opens a device's port for a probe, or says why not (busy: a warning; anything else: a failure). */
async function openProbe(
  name: string,
  path: string,
  baudRate: number,
  open: OpenProbePort,
  fixes: { busy: string[]; other(err: unknown): string[] },
): Promise<ProbePort | CheckResult> {
  try {
    const port = open(path, baudRate);
    await openPort(port);
    return port;
  } catch (err) {
    if (isBusyError(err)) return warn(name, `${path} is busy: another program (most likely the bridge service) holds it`, fixes.busy);
    return fail(name, `cannot open ${path}: ${errorText(err)}`, fixes.other(err));
  }
}

function openPort(port: ProbePort): Promise<void> {
  return new Promise((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
}

function closePort(port: ProbePort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) return resolve();
    port.close(() => resolve());
  });
}

export interface TerminalProbeDeps {
  openPort: OpenProbePort;
  timeoutMs: number;
  /** The doctor's boot id in its hello (16 hex digits). */
  bootId?: string;
}

export interface TerminalHello {
  fw: string;
  serial: string;
  proto: number;
}

const TERMINAL_BUSY_FIXES = [
  'the running bridge knows the terminal: `hcp status`',
  'or stop it for a full check: `sudo systemctl stop hcp-bridge`, run `hcp doctor` again, then `sudo systemctl start hcp-bridge`',
];

const PERMISSION_FIX = 'add the user to the dialout group (`sudo usermod -aG dialout $USER`, then log in again)';

/** What the terminal said within the timeout, after our hello. */
interface Heard {
  hello: TerminalHello | undefined;
  frames: number;
  garbled: number;
}

/** Says hello on an open port and listens for the terminal's (or any valid frame) until the timeout; closes the port. */
async function listenForHello(port: ProbePort, timeoutMs: number, bootId: string | undefined): Promise<Heard> {
  const heard: Heard = { hello: undefined, frames: 0, garbled: 0 };
  let partial = '';
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      port.on('error', () => undefined);
      port.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('latin1')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line.trim() === '') continue;
          const decoded = decodeFrame(line);
          if (!decoded.ok) {
            heard.garbled++;
            continue;
          }
          heard.frames++;
          const parsed = deviceHelloSchema.safeParse(decoded.value);
          if (parsed.success) {
            heard.hello = { fw: parsed.data.fw, serial: parsed.data.serial, proto: parsed.data.proto };
            clearTimeout(timer);
            resolve();
          }
        }
      });
      port.write(encodeFrame({ type: 'hello', seq: 1, proto: SERIAL_PROTOCOL_VERSION, boot: bootId ?? randomBytes(8).toString('hex') }));
    });
  } finally {
    await closePort(port);
  }
  return heard;
}

/** The verdict on a terminal's hello: `where` says where it answered, e.g. "on /dev/ttyUSB0". */
function helloResult(name: string, where: string, hello: TerminalHello): CheckResult {
  const found = `serial ${hello.serial}, firmware ${hello.fw}, protocol v${hello.proto}`;
  if (hello.proto !== SERIAL_PROTOCOL_VERSION) {
    return fail(name, `answers ${where}: ${found}, but this bridge speaks protocol v${SERIAL_PROTOCOL_VERSION}`, [
      'update the terminal firmware or the bridge so both speak the same protocol',
    ]);
  }
  if (hello.fw !== FIRMWARE_VERSION) {
    return warn(name, `answers ${where}: ${found} (this bridge was built with firmware ${FIRMWARE_VERSION})`, [
      'consider flashing the matching firmware (`npm run build:espruino`)',
    ]);
  }
  return ok(name, `answers ${where}: ${found}`);
}

/**
 * Opens the terminal's port, says hello (the terminal answers with its own: firmware and serial
 * number) and listens for any valid frame (heartbeats come every 2 s) until the timeout.
 */
export async function checkTerminal(config: BridgeConfig, deps: TerminalProbeDeps): Promise<CheckResult> {
  const name = 'terminal';
  const { path, baudRate } = terminalPort(config);
  const port = await openProbe(name, path, baudRate, deps.openPort, {
    busy: TERMINAL_BUSY_FIXES,
    other: (err) =>
      /permission denied|EACCES/i.test(errorText(err))
        ? [PERMISSION_FIX]
        : ['see the terminal port line: the port must exist before the terminal can answer'],
  });
  if (!('write' in port)) return port;
  const { hello, frames, garbled } = await listenForHello(port, deps.timeoutMs, deps.bootId);
  const seconds = `${Math.round(deps.timeoutMs / 100) / 10} s`;
  if (hello) return helloResult(name, `on ${path}`, hello);
  if (frames > 0) {
    return warn(name, `sends valid frames on ${path} (${frames} in ${seconds}) but did not say hello`, [
      'power-cycle the terminal: it says hello on boot',
    ]);
  }
  if (garbled > 0) {
    return fail(name, `${path} carries data, but no valid frame (${garbled} garbled lines in ${seconds})`, [
      `check the baud rate: serial.baudRate is ${baudRate}, the terminal firmware uses 115200 8N1`,
      'check the cable and ground (a loose ground garbles every byte)',
    ]);
  }
  return fail(name, `no answer on ${path} within ${seconds}`, [
    'check the terminal has power and its USB/serial cable is in (it says hello at boot: power-cycle it while this runs)',
    'with a UART cable: TX goes to RX, RX to TX, and the grounds are joined',
    `check the baud rate: serial.baudRate is ${baudRate}`,
  ]);
}

export interface BoardProbeDeps {
  /** Makes the Arduino's serial port, not yet open. */
  openSerialPort: BoardTerminalDeps['openSerialPort'];
  timeoutMs: number;
  bootId?: string;
}

/**
 * A terminal on an Arduino (config `board`): starts the terminal as the bridge would (Firmata
 * handshake, then the core on the board's pins) and reports the sketch on the Arduino and the
 * core's hello.
 */
export async function checkBoardTerminal(config: BridgeConfig, deps: BoardProbeDeps): Promise<CheckResult> {
  const name = 'terminal';
  const { path, baudRate } = terminalPort(config);
  const port = boardTerminalPort(config, { openSerialPort: deps.openSerialPort, logger: silentLogger, firmata: { readyTimeoutMs: deps.timeoutMs } });
  try {
    await openPort(port);
  } catch (err) {
    const text = errorText(err);
    if (isBusyError(err)) return warn(name, `${path} is busy: another program (most likely the bridge service) holds it`, TERMINAL_BUSY_FIXES);
    if (/no Firmata answer/.test(text)) {
      return fail(name, text, [
        'upload StandardFirmata to the Arduino (Arduino IDE: File > Examples > Firmata > StandardFirmata; see docs/wiring.md)',
        `check board.baudRate: it is ${baudRate}, StandardFirmata uses 57600`,
      ]);
    }
    if (/configured wiring/.test(text)) return fail(name, text, ['check board.pins against the wiring (docs/wiring.md)']);
    return fail(name, `cannot start the terminal on ${path}: ${text}`, [
      /permission denied|EACCES/i.test(text) ? PERMISSION_FIX : 'see the terminal port line: the Arduino must be plugged in',
    ]);
  }
  const firmware = port.firmware;
  const board = firmware ? `${firmware.name} ${firmware.version} (Firmata protocol ${firmware.protocol})` : 'Firmata';
  const { hello } = await listenForHello(port, deps.timeoutMs, deps.bootId);
  if (hello) return helloResult(name, `on the Arduino at ${path}, running ${board}`, hello);
  return fail(name, `the Arduino at ${path} runs ${board}, but the terminal core did not say hello`, [
    'run `hcp doctor` again; if it persists, report it with the bridge log',
  ]);
}

export interface PrinterProbeDeps {
  openPort: OpenProbePort;
  timeoutMs: number;
}

/** Asks the printer for its real-time status (DLE EOT 1, 2, 4) and reads the three answers. */
export async function checkPrinter(config: BridgeConfig, deps: PrinterProbeDeps): Promise<CheckResult | undefined> {
  if (!config.printer) return undefined;
  const name = 'printer';
  const { path, baudRate } = config.printer;
  const port = await openProbe(name, path, baudRate, deps.openPort, {
    busy: ['the running bridge reports the printer: `hcp status`'],
    other: () => ['see the printer port line above'],
  });
  if (!('write' in port)) return port;
  const answers: number[] = [];
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deps.timeoutMs);
      port.on('error', () => undefined);
      port.on('data', (chunk: Buffer) => {
        for (const byte of chunk) if (isStatusByte(byte)) answers.push(byte);
        if (answers.length >= 3) {
          clearTimeout(timer);
          resolve();
        }
      });
      port.write(Buffer.from([...STATUS_REQUEST.printer, ...STATUS_REQUEST.offlineCause, ...STATUS_REQUEST.paper]));
    });
  } finally {
    await closePort(port);
  }
  const [printer, cause, paper] = answers;
  if (printer === undefined || cause === undefined || paper === undefined) {
    return fail(name, `no status answer on ${path} within ${deps.timeoutMs} ms`, [
      'check the printer is switched on and its cable is in',
      `check the baud rate: printer.baudRate is ${baudRate} (print a self-test page: hold FEED while switching on)`,
    ]);
  }
  return printerResult(path, decodeStatus(printer, cause, paper));
}

export function printerResult(path: string, status: PrinterStatus): CheckResult {
  const name = 'printer';
  if (status.coverOpen) return fail(name, `cover open (${path})`, ['close the paper cover until it clicks']);
  if (status.paper === 'out') return fail(name, `out of paper (${path})`, ['load a new roll, thermal side facing the print head']);
  if (!status.online) return fail(name, `offline (${path})`, ['press the printer\'s FEED button, or switch it off and on']);
  if (status.paper === 'low') return warn(name, `ready, paper low (${path})`, ['have a new roll ready']);
  return ok(name, `ready (${path})`);
}

// ---------------------------------------------------------------------------------------------
// broker

export interface BrokerDeps {
  /** mqtt.connectAsync without retries; resolves once connected. */
  connect: (url: string, options: mqtt.IClientOptions) => Promise<{ end: (force?: boolean) => unknown }>;
  timeoutMs: number;
}

export const defaultConnect: BrokerDeps['connect'] = (url, options) => mqtt.connectAsync(url, options, false);

/** Connects to the broker with the config's credentials and hangs up at once. */
export async function checkBroker(config: BridgeConfig, deps: BrokerDeps): Promise<CheckResult> {
  const name = 'broker';
  const { url, username, password } = config.mqtt;
  const options: mqtt.IClientOptions = {
    clientId: `hcp-doctor-${config.terminal.id}-${randomBytes(3).toString('hex')}`,
    connectTimeout: deps.timeoutMs,
    reconnectPeriod: 0,
    clean: true,
  };
  if (username !== undefined) options.username = username;
  if (password !== undefined) options.password = password;
  try {
    Object.assign(options, readTlsFiles(config.mqtt.tls));
  } catch (err) {
    return fail(name, errorText(err), ['check the paths in mqtt.tls and that the service user may read them']);
  }
  try {
    const client = await withTimeout(deps.connect(url, options), deps.timeoutMs + 500, 'timeout');
    client.end(true);
    return ok(name, `${url} accepts ${username ? `user ${username}` : 'the terminal (no username)'}`);
  } catch (err) {
    return brokerFailure(url, err, deps.timeoutMs);
  }
}

export function brokerFailure(url: string, err: unknown, timeoutMs: number): CheckResult {
  const name = 'broker';
  const code = (err as { code?: unknown } | null)?.code;
  const text = errorText(err);
  const host = hostOf(url);
  if (code === 4 || code === 5 || code === 0x86 || code === 0x87 || /not authori[sz]ed|bad user ?name or password/i.test(text)) {
    return fail(name, `${url} refused the connection: not authorised (${text})`, [
      'check mqtt.username and mqtt.password against what the province issued for this terminal',
      'ask the province whether this terminal id is registered and allowed to publish',
    ]);
  }
  if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) {
    return fail(name, `${url}: the broker's certificate is not trusted (${text})`, [
      "set mqtt.tls.ca to the CA file the province issued (PEM) for its broker's certificate",
      'a certificate for another host name: use the host name the certificate was made for in mqtt.url',
    ]);
  }
  if (code === 'ECONNREFUSED') {
    return fail(name, `${url} is unreachable: connection refused`, [
      `check the host and port in mqtt.url; nothing listens there (\`nc -vz ${host.hostname} ${host.port}\`)`,
      'a firewall may reject the port: ask the hall\'s network administrator',
    ]);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return fail(name, `${url} is unreachable: the name ${host.hostname} does not resolve`, [
      'check the network and DNS (`getent hosts ' + host.hostname + '`), and the spelling in mqtt.url',
    ]);
  }
  if (text === 'timeout' || code === 'ETIMEDOUT' || /timed? ?out|couldn't connect/i.test(text)) {
    return fail(name, `${url} is unreachable: no MQTT answer within ${timeoutMs} ms`, [
      'check the network cable / Wi-Fi and the default route (`ip route`)',
      `a firewall may drop the port: try \`nc -vz ${host.hostname} ${host.port}\``,
    ]);
  }
  if (/certificate|self[- ]signed|TLS|SSL/i.test(text)) {
    return fail(name, `${url}: TLS failed (${text})`, [
      'check the clock (certificates are not valid in the past) and that the province\'s CA is trusted',
    ]);
  }
  return fail(name, `${url}: cannot connect (${text})`, ['check mqtt.url, the network and the credentials']);
}

function hostOf(url: string): { hostname: string; port: string } {
  try {
    const u = new URL(url);
    const defaults: Record<string, string> = { 'mqtt:': '1883', 'mqtts:': '8883', 'ws:': '80', 'wss:': '443' };
    return { hostname: u.hostname, port: u.port || (defaults[u.protocol] ?? '') };
  } catch {
    return { hostname: url, port: '' };
  }
}

// ---------------------------------------------------------------------------------------------
// clock

export async function checkClock(ntpSynced: () => Promise<boolean | undefined> = timedatectlSynced): Promise<CheckResult> {
  const name = 'clock';
  let synced: boolean | undefined;
  try {
    synced = await ntpSynced();
  } catch {
    synced = undefined;
  }
  if (synced === true) return ok(name, 'synchronised by NTP');
  if (synced === false) {
    return fail(name, 'not synchronised: records will wait for the province\'s time, then go flagged clock_unsynced', [
      'check the network, then `sudo timedatectl set-ntp true` and `timedatectl timesync-status`',
    ]);
  }
  return warn(name, 'unknown: `timedatectl` is missing or cannot tell (no systemd here?)', [
    'on the Pi, `timedatectl show -p NTPSynchronized --value` should say yes',
  ]);
}

// ---------------------------------------------------------------------------------------------
// database

export interface DatabaseFindings {
  integrity: string;
  pending: number;
  quarantined: number;
  oldestPendingAt: string | null;
  usedBytes: number;
}

/** Reads the database without changing it: integrity, backlog and size. */
export function inspectDatabase(path: string, capBytes: number): DatabaseFindings {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const integrity = String(db.pragma('quick_check', { simple: true }));
    const hasRecords = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'").get() !== undefined;
    const counts = hasRecords
      ? (db
          .prepare(
            `SELECT
               COALESCE(SUM(state = 'pending'), 0) AS pending,
               COALESCE(SUM(state = 'quarantined'), 0) AS quarantined,
               MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest
             FROM records`,
          )
          .get() as { pending: number; quarantined: number; oldest: string | null })
      : { pending: 0, quarantined: 0, oldest: null };
    const { usedBytes } = storageStatus(db, path, capBytes);
    return { integrity, pending: counts.pending, quarantined: counts.quarantined, oldestPendingAt: counts.oldest, usedBytes };
  } finally {
    db.close();
  }
}

export interface DatabaseDeps {
  exists: (path: string) => boolean;
  writable: (dir: string) => boolean;
  inspect: (path: string, capBytes: number) => DatabaseFindings;
  now: () => number;
}

export const defaultDatabaseDeps: DatabaseDeps = {
  exists: existsSync,
  writable: (dir) => {
    try {
      accessSync(dir, constants.W_OK);
      return statSync(dir).isDirectory();
    } catch {
      return false;
    }
  },
  inspect: inspectDatabase,
  now: Date.now,
};

export function checkDatabase(config: BridgeConfig, deps: DatabaseDeps = defaultDatabaseDeps): CheckResult {
  const name = 'database';
  const path = resolve(config.database.path);
  const capBytes = config.database.maxSizeMB * 1024 * 1024;
  if (!deps.exists(path)) {
    const dir = dirname(path);
    if (deps.writable(dir)) return ok(name, `${path} will be created at first start`);
    return fail(name, `${path} does not exist and its folder ${dir} is missing or not writable`, [
      `sudo mkdir -p ${dir} && sudo chown hcp:hcp ${dir}`,
      'with the systemd unit, the folder must also be in ReadWritePaths=',
    ]);
  }
  let found: DatabaseFindings;
  try {
    found = deps.inspect(path, capBytes);
  } catch (err) {
    return fail(name, `cannot read ${path}: ${errorText(err)}`, [
      'check the file\'s owner and permissions (`ls -l` it and its -wal/-shm files)',
      'if it is damaged: stop the bridge, keep a copy, and restore from the last backup',
    ]);
  }
  if (found.integrity !== 'ok') {
    return fail(name, `${path} fails its integrity check: ${found.integrity}`, [
      'stop the bridge, copy the file aside, then `sqlite3 hcp.db .recover | sqlite3 recovered.db` and ask the vendor before swapping it in',
    ]);
  }
  const age = found.oldestPendingAt ? ` (oldest ${formatAge(deps.now() - Date.parse(found.oldestPendingAt))} old)` : '';
  const summary = `${path}: integrity ok, ${found.pending} pending${age}, ${found.quarantined} quarantined, ${formatBytes(found.usedBytes)} of ${formatBytes(capBytes)}`;
  if (found.usedBytes >= capBytes) {
    return fail(name, `${summary}: full, new invitations are refused`, [
      'get the backlog to the province (check the broker line), or raise database.maxSizeMB if the disk allows',
    ]);
  }
  if (found.quarantined > 0) {
    return warn(name, summary, ['the province rejected some records: `hcp status` lists the latest with their reasons']);
  }
  if (found.usedBytes >= capBytes * 0.9) {
    return warn(name, `${summary}: nearly full`, ['get the backlog to the province, or raise database.maxSizeMB']);
  }
  return ok(name, summary);
}

// ---------------------------------------------------------------------------------------------
// disk

export const LOW_DISK_BYTES = 500 * 1024 * 1024;

/** Free space on the filesystem that holds (or will hold) the database. */
export function checkDisk(config: BridgeConfig, statfs: (path: string) => { bavail: number; bsize: number } = statfsSync): CheckResult {
  const name = 'disk';
  let dir = dirname(resolve(config.database.path));
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  let free: number;
  try {
    const s = statfs(dir);
    free = s.bavail * s.bsize;
  } catch (err) {
    return warn(name, `cannot tell the free space at ${dir}: ${errorText(err)}`);
  }
  if (free < LOW_DISK_BYTES) {
    return warn(name, `${formatBytes(free)} free at ${dir} (under ${formatBytes(LOW_DISK_BYTES)})`, [
      'free space: `sudo journalctl --vacuum-size=50M`, `sudo apt-get clean`; or use a larger SD card',
    ]);
  }
  return ok(name, `${formatBytes(free)} free at ${dir}`);
}

// ---------------------------------------------------------------------------------------------
// the command

export interface DoctorDeps {
  loadConfig: (path: string) => BridgeConfig;
  serialPorts: SerialPortsDeps;
  openPort: OpenProbePort;
  /** For a terminal on an Arduino (config `board`). */
  openArduinoPort: BoardProbeDeps['openSerialPort'];
  connect: BrokerDeps['connect'];
  ntpSynced: () => Promise<boolean | undefined>;
  database: DatabaseDeps;
  statfs: (path: string) => { bavail: number; bsize: number };
}

export const defaultDoctorDeps: DoctorDeps = {
  loadConfig: loadConfigFile,
  serialPorts: defaultSerialPortsDeps,
  openPort: openSerialProbe,
  openArduinoPort: openSystemSerialPort,
  connect: defaultConnect,
  ntpSynced: timedatectlSynced,
  database: defaultDatabaseDeps,
  statfs: statfsSync,
};

/** Runs every check; the results come in a fixed order whatever order they finish in. */
export async function runDoctor(configPath: string, timeoutMs: number, deps: DoctorDeps = defaultDoctorDeps): Promise<CheckResult[]> {
  const { result, config } = checkConfig(configPath, deps.loadConfig);
  if (!config) return [result];
  const ports = await checkSerialPorts(config, deps.serialPorts);
  const terminalPortPresent = ports[0]?.level === 'ok';
  const printerPortPresent = ports[1]?.level === 'ok';
  const [terminal, broker, clock, printer] = await Promise.all([
    terminalPortPresent
      ? config.board
        ? checkBoardTerminal(config, { openSerialPort: deps.openArduinoPort, timeoutMs })
        : checkTerminal(config, { openPort: deps.openPort, timeoutMs })
      : Promise.resolve(fail('terminal', 'not asked: its serial port is missing', ['fix the terminal port first'])),
    checkBroker(config, { connect: deps.connect, timeoutMs }),
    checkClock(deps.ntpSynced),
    config.printer && !printerPortPresent
      ? Promise.resolve(fail('printer', 'not asked: its serial port is missing', ['fix the printer port first']))
      : checkPrinter(config, { openPort: deps.openPort, timeoutMs: Math.min(timeoutMs, Math.max(config.printer?.statusTimeoutMs ?? 0, 2000)) }),
  ]);
  const results = [result, ...ports, terminal, broker, clock, checkDatabase(config, deps.database), checkDisk(config, deps.statfs)];
  if (printer) results.push(printer);
  return results;
}

/** `hcp doctor --config FILE`: prints one line per check; exit code 1 if any failed. */
export async function doctorCommand({ config, timeoutSeconds }: { config: string; timeoutSeconds: number }): Promise<void> {
  console.log(`hcp doctor: checking ${config} (waiting up to ${timeoutSeconds} s for the terminal and the broker)`);
  const results = await runDoctor(config, timeoutSeconds * 1000);
  for (const r of results) console.log(formatResult(r));
  const failed = results.filter((r) => r.level === 'fail').length;
  const warned = results.filter((r) => r.level === 'warn').length;
  console.log(failed ? `${failed} problem(s), ${warned} warning(s)` : warned ? `no problems, ${warned} warning(s)` : 'all checks passed');
  process.exitCode = failed ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// helpers

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${bytes} B`;
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}
