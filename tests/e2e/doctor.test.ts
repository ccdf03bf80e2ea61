import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerFailure } from '../../bridge/uplink/probe.js';
import { checkClock } from '../../bridge/time/probe.js';
import { checkPorts, defaultPresenceDeps } from '../../bridge/transport/probe.js';
import { printerResult } from '../../bridge/printer/probe.js';
import { parseConfig, type BridgeConfigInput } from '../../bridge/config.js';
import { openDatabase } from '../../bridge/store/database.js';
import { EmbeddedBroker } from '../../simulator/broker.js';
import { NetworkPrinter } from '../../simulator/network-printer.js';
import { UsbPrinter } from '../../simulator/usb-printer.js';
import { PtyLine } from '../../simulator/pty-line.js';
import { VirtualTerminal } from '../../simulator/virtual-terminal.js';
import { FIRMWARE_VERSION } from '../../firmware/core/terminal-core.js';
import { freePort } from '../../simulator/free-port.js';
import { BridgeProcess } from '../support/bridge-process.js';
import { hcp } from '../support/run-hcp.js';
import { waitUntil } from '../../simulator/wait.js';

/*
 * `hcp doctor` and `hcp status` as a technician runs them: child processes of the real CLI,
 * against a real serial line (socat pty pair) with a virtual terminal on its far end, an embedded
 * broker, and (for status) the real bridge.
 */


const SERIAL = 'DOC-0001';
const dir = mkdtempSync(join(tmpdir(), 'hcp-doctor-'));
let broker: EmbeddedBroker;
let line: PtyLine;
let terminal: VirtualTerminal;
/** The bridge API's port in these configs: nothing listens there unless a test starts the bridge. */
let apiPort: number;

function config(overrides: Partial<BridgeConfigInput> = {}): BridgeConfigInput {
  return {
    terminal: { id: 'T-DOC-01', areaCode: '330106', hallCode: '330106-ZWFW-01', windowNo: 'D01' },
    serial: { path: line.bridgePath },
    mqtt: { url: broker.url },
    database: { path: join(dir, 'hcp.db') },
    http: { port: apiPort },
    clock: { trust: 'system' },
    log: { level: 'warn' },
    ...overrides,
  };
}

function writeConfig(name: string, cfg: BridgeConfigInput): string {
  const file = join(dir, name);
  writeFileSync(file, `${JSON.stringify(cfg, null, 2)}\n`);
  return file;
}

/** The check lines (✔, ✘ or ! first), by check name. */
function checks(stdout: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const l of stdout.split('\n')) {
    const m = /^([✔✘!]) ([a-z ]+): /.exec(l);
    if (m?.[1] && m[2]) found.set(m[2], m[1]);
  }
  return found;
}

beforeAll(async () => {
  apiPort = await freePort();
  broker = await EmbeddedBroker.start({
    // Only the terminal's own credentials get in (the "not authorised" case uses others).
    aedes: { authenticate: (_client, username, _password, done) => done(null, username === undefined || username === 'T-DOC-01') },
  });
  line = await PtyLine.start();
  terminal = await VirtualTerminal.start({
    devicePath: line.devicePath,
    serial: SERIAL,
    openPort: (path) => new SerialPort({ path, baudRate: 115200, autoOpen: false }),
  });
});

afterAll(async () => {
  const steps: Array<() => Promise<unknown> | undefined> = [() => terminal?.stop(), () => line?.stop(), () => broker?.stop()];
  for (const step of steps) await Promise.resolve(step()).catch((err: unknown) => console.error('cleanup:', err));
  rmSync(dir, { recursive: true, force: true });
});

describe('hcp doctor', () => {
  it('passes every check on a good setup and names the terminal it found', async () => {
    // A database the bridge made earlier, so that its health and backlog are read.
    openDatabase(join(dir, 'hcp.db')).close();
    const file = writeConfig('good.json', config());
    const { code, stdout, stderr } = await hcp(['doctor', '--config', file, '--timeout-seconds', '5']);
    expect(stderr).toBe('');
    const found = checks(stdout);
    expect([...found.keys()]).toEqual(['config', 'terminal port', 'terminal', 'broker', 'clock', 'database', 'disk']);
    for (const [name, symbol] of found) {
      // The container may have no timedatectl: "unknown" is a warning, never a failure.
      if (name === 'clock') expect(symbol).not.toBe('✘');
      else expect(symbol, `${name} in:\n${stdout}`).toBe('✔');
    }
    expect(stdout).toContain(`✔ terminal: answers on ${line.bridgePath}: serial ${SERIAL}, firmware ${FIRMWARE_VERSION}, protocol v1`);
    expect(stdout).toMatch(/✔ broker: mqtt:\/\/127\.0\.0\.1:\d+ accepts the terminal \(no username\) \(the service is not running \(nothing at http:\/\/127\.0\.0\.1:\d+\): doctor connected itself with the terminal's account\)/);
    expect(stdout).toMatch(/✔ database: .*hcp\.db: integrity ok, 0 pending, 0 quarantined/);
    expect(code).toBe(0);
  }, 30_000);

  it('reports a missing serial port and a closed broker port as problems with their fixes, exit code 1', async () => {
    const closed = await freePort();
    const file = writeConfig(
      'bad.json',
      config({
        serial: { path: join(dir, 'ttyUSB9') },
        mqtt: { url: `mqtt://127.0.0.1:${closed}` },
        database: { path: join(dir, 'missing-folder', 'hcp.db') },
      }),
    );
    const { code, stdout, stderr } = await hcp(['doctor', '--config', file, '--timeout-seconds', '2']);
    expect(code).toBe(1);
    expect(stderr).toBe(''); // no crash, no stack trace
    expect(stdout).toContain(`✘ terminal port: ${join(dir, 'ttyUSB9')} (the terminal) is missing`);
    expect(stdout).toContain('fix: check the terminal\'s USB cable and power');
    expect(stdout).toContain('dialout');
    expect(stdout).toContain(`✘ broker: mqtt://127.0.0.1:${closed} is unreachable: connection refused`);
    expect(stdout).toContain('fix: check the host and port in mqtt.url');
    expect(stdout).toMatch(/✘ database: .* does not exist and its folder .* is missing or not writable/);
    expect(stdout).toMatch(/\d+ problem\(s\)/);
  }, 30_000);

  it('tells "not authorised" from unreachable', async () => {
    const file = writeConfig('unauthorised.json', config({ mqtt: { url: broker.url, username: 'someone-else', password: 'x' } }));
    const { code, stdout } = await hcp(['doctor', '--config', file, '--timeout-seconds', '3']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/✘ broker: mqtt:\/\/127\.0\.0\.1:\d+ refused the connection: not authorised/);
    expect(stdout).toContain('fix: check mqtt.username and mqtt.password');
  }, 30_000);

  it('checks a network printer and a USB printer over their own transports', async () => {
    const network = await NetworkPrinter.start();
    const usb = await UsbPrinter.start({ answersStatus: false });
    try {
      const withPrinter = (path: string) => ({ ...config(), printer: { path, evaluationUrl: 'https://hcp.province.example/rate' } });
      const tcp = await hcp(['doctor', '--config', writeConfig('tcp.json', withPrinter(network.address)), '--timeout-seconds', '3']);
      expect(tcp.stdout).toContain(`✔ printer port: ${network.address} accepts connections`);
      expect(tcp.stdout).toContain(`✔ printer: ready (${network.address})`);
      network.setPaper('out');
      const paperOut = await hcp(['doctor', '--config', writeConfig('tcp.json', withPrinter(network.address)), '--timeout-seconds', '3']);
      expect(paperOut.stdout).toContain(`✘ printer: out of paper (${network.address})`);
      await network.unplug();
      const down = await hcp(['doctor', '--config', writeConfig('tcp.json', withPrinter(network.address)), '--timeout-seconds', '3']);
      expect(down.stdout).toContain(`✘ printer port: cannot connect to ${network.address} (the receipt printer): connect ECONNREFUSED`);
      expect(down.stdout).toContain('raw print jobs on port 9100');
      expect(down.stdout).toContain('✘ printer: not asked: its port is missing');

      const lp = await hcp(['doctor', '--config', writeConfig('usb.json', withPrinter(usb.address)), '--timeout-seconds', '3']);
      expect(lp.stdout).toContain(`✔ printer port: ${usb.address} is present (a USB printer-class device)`);
      expect(lp.stdout).toContain(`! printer: ${usb.address} is open, but the printer does not answer status requests`);
      expect(lp.code).toBe(0);
      await usb.unplug();
      const gone = await hcp(['doctor', '--config', writeConfig('usb.json', withPrinter(usb.address)), '--timeout-seconds', '3']);
      expect(gone.stdout).toContain(`✘ printer port: ${usb.path} (the receipt printer) is missing`);
      expect(gone.stdout).toContain('lsmod | grep usblp');
    } finally {
      await network.stop();
      await usb.stop();
    }
  }, 60_000);

  it('lists the problems of an invalid config', async () => {
    const file = join(dir, 'invalid.yaml');
    writeFileSync(file, 'terminal: { id: T1, areaCode: "3301", hallCode: H, windowNo: "1" }\nserial: { path: /dev/null }\nmqtt: { url: "mqtt://127.0.0.1:1" }\ndatabase: { path: x.db }\n');
    const { code, stdout } = await hcp(['doctor', '--config', file]);
    expect(code).toBe(1);
    expect(stdout).toContain(`✘ config: config file ${file} is invalid:`);
    expect(stdout).toContain('terminal.areaCode: administrative area code (行政区划代码) must be 6 digits');
  }, 30_000);
});

describe('hcp status', () => {
  let bridge: BridgeProcess | undefined;
  afterAll(async () => {
    await bridge?.stop();
  });

  it('summarises a running bridge', async () => {
    bridge = await BridgeProcess.start({ config: config({ database: { path: join(dir, 'status.db') } }) });
    await bridge.waitForStatus((s) => s.link.alive && s.link.terminal?.serial === SERIAL && s.broker.connected, 'terminal and broker up');
    const { code, stdout } = await hcp(['status', '--url', bridge.httpUrl]);
    expect(code).toBe(0);
    expect(stdout).toContain(`hcp status: ${bridge.httpUrl}`);
    expect(stdout).toMatch(/terminal +T-DOC-01 +window D01/);
    expect(stdout).toMatch(/staff +nobody signed in/);
    expect(stdout).toMatch(/sign-in +UNCHECKED: no roster from the province yet/); // BridgeProcess sets http.allowUnverifiedStaff
    expect(stdout).toMatch(new RegExp(`link +up on ${line.bridgePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(port open\\); terminal serial ${SERIAL}, firmware ${FIRMWARE_VERSION}`));
    expect(stdout).toMatch(/broker +connected to mqtt:\/\/127\.0\.0\.1:\d+/);
    // No province answers here: an event the bridge records at start (a staff action, the terminal's pairing) may wait.
    expect(stdout).toMatch(/backlog +\d+ pending(?: \(oldest [^)]+\))?, 0 quarantined/);
    expect(stdout).toMatch(/clock +synced/);
    expect(stdout).toMatch(/storage +[\d.]+ [KM]?B of 512\.0 MB/);
    expect(stdout).toMatch(/printer +not configured/);
    expect(stdout).toMatch(/alarms +none/);

    const json = await hcp(['status', '--url', bridge.httpUrl, '--json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { terminal: { id: string } }).terminal.id).toBe('T-DOC-01');
  }, 60_000);

  it('doctor says the port is busy while the bridge holds it, and sees the broker through the running service', async () => {
    const { code, stdout } = await hcp(['doctor', '--config', bridge!.configPath, '--timeout-seconds', '2']);
    expect(stdout).toContain(`! terminal: ${line.bridgePath} is busy`);
    expect(stdout).toContain('`hcp status`');
    expect(stdout).toMatch(
      new RegExp(`✔ broker: asked the running service \\(${bridge!.httpUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\), which is connected to mqtt://127\\.0\\.0\\.1:\\d+; doctor did not connect itself`),
    );
    expect(code).toBe(0);
    // That it stays connected under a broker that binds client ids: tests/integration/broker-acl.test.ts.
    expect((await bridge!.status()).broker.connected).toBe(true);
  }, 30_000);

  it('a password over plain mqtt:// to another host: hcp run warns as it starts, doctor warns too', async () => {
    const plain = await BridgeProcess.start({
      config: config({
        serial: { path: join(dir, 'no-terminal') },
        mqtt: { url: 'mqtt://broker.invalid:1883', username: 'T-DOC-01', password: 'plain-secret' },
        database: { path: join(dir, 'plain.db') },
        http: { port: 0 },
      }),
    });
    try {
      await waitUntil(() => plain.logRecords().find((r) => r.level === 40 && String(r.msg).startsWith('INSECURE: mqtt:// to broker.invalid sends the broker password unencrypted')), 'the warning at start');
      const { stdout } = await hcp(['doctor', '--config', plain.configPath, '--timeout-seconds', '2']);
      expect(stdout).toContain('! broker transport: mqtt:// to broker.invalid sends the broker password unencrypted');
      expect(stdout).toContain('fix: ask the province for its TLS port and CA');
      expect(plain.logs() + stdout).not.toContain('plain-secret');
    } finally {
      await plain.stop();
    }
  }, 60_000);

  it('says clearly when no bridge answers, with exit code 1', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { code, stdout, stderr } = await hcp(['status', '--url', url]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(`hcp status: no bridge answers at ${url}: is the service running? \`systemctl status hcp-bridge\``);
  }, 30_000);
});

describe('doctor checks, in process', () => {
  const cfg = () =>
    parseConfig({
      ...config({ serial: { path: '/dev/ttyUSB0' } }),
      printer: { path: '/dev/ttyUSB1', evaluationUrl: 'https://hcp.province.example/rate' },
    });

  it('falls back to the configured paths when udev cannot list the ports (e.g. in a container)', async () => {
    const results = await checkPorts(cfg(), {
      ...defaultPresenceDeps,
      list: () => {
        throw new Error('udevadm: not found');
      },
      exists: (path) => path === '/dev/ttyUSB0',
    });
    expect(results.map((r) => [r.name, r.level])).toEqual([
      ['terminal port', 'ok'],
      ['printer port', 'fail'],
    ]);
    expect(results[1]?.fix?.join('\n')).toContain('udev cannot list the ports here (udevadm: not found)');
  });

  it('takes a file that is no device for a USB printer as a problem', async () => {
    const file = join(dir, 'not-a-printer');
    writeFileSync(file, '');
    const results = await checkPorts(parseConfig({ ...config(), printer: { path: `usblp:${file}`, evaluationUrl: 'https://hcp.province.example/rate' } }));
    expect(results[1]).toMatchObject({ level: 'fail', message: `usblp:${file} is not a device (a USB printer is a character device, like /dev/usb/lp0)` });
  });

  it('tells a refused login (CONNACK 5, reason 0x87) from a missing broker', () => {
    for (const code of [4, 5, 0x86, 0x87]) {
      expect(brokerFailure('mqtt://b:1883', Object.assign(new Error('Connection refused'), { code }), 1000).message).toContain('not authorised');
    }
    expect(brokerFailure('mqtt://b:1883', Object.assign(new Error('getaddrinfo ENOTFOUND b'), { code: 'ENOTFOUND' }), 1000).message).toContain('does not resolve');
    expect(brokerFailure('mqtt://b:1883', new Error('timeout'), 1000).message).toContain('no MQTT answer within 1000 ms');
  });

  it('reports the clock as synced, not synced (a problem) or unknown (a warning)', async () => {
    expect((await checkClock(async () => true)).level).toBe('ok');
    expect((await checkClock(async () => false)).level).toBe('fail');
    expect((await checkClock(async () => undefined)).level).toBe('warn');
  });

  it('reads the printer status bytes as conditions with fixes', () => {
    expect(printerResult('/dev/p', { online: true, coverOpen: false, paper: 'ok' }).level).toBe('ok');
    expect(printerResult('/dev/p', { online: true, coverOpen: false, paper: 'low' }).level).toBe('warn');
    expect(printerResult('/dev/p', { online: false, coverOpen: true, paper: 'ok' }).message).toContain('cover open');
    expect(printerResult('/dev/p', { online: false, coverOpen: false, paper: 'out' }).message).toContain('out of paper');
  });
});
