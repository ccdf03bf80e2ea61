import { createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../bridge/config.js';
import { brokerConnection } from '../../bridge/uplink/mqtt-options.js';
import { publicKeyText } from '../../bridge/identity/terminal-key.js';
import { EmbeddedBroker } from '../../simulator/broker.js';
import { ProvinceEmulator } from '../../simulator/province.js';
import { hcp } from '../support/run-hcp.js';

/*
 * `hcp provision` as a technician runs it: the real CLI as a child process, against an embedded
 * broker with the province emulator on it (which registers a terminal and sends its config, or,
 * in manual mode, does not answer).
 */

let broker: EmbeddedBroker;
let province: ProvinceEmulator;
/** A second broker whose province registers terminals but sends nothing back (an operator's approval pending). */
let quietBroker: EmbeddedBroker;
let quietProvince: ProvinceEmulator;
let n = 0;

beforeAll(async () => {
  broker = await EmbeddedBroker.start({ port: 0 });
  province = await ProvinceEmulator.start({ url: broker.url });
  quietBroker = await EmbeddedBroker.start({ port: 0 });
  quietProvince = await ProvinceEmulator.start({ url: quietBroker.url, registration: 'manual' });
});
afterAll(async () => {
  await province.stop();
  await quietProvince.stop();
  await broker.stop();
  await quietBroker.stop();
});

function setup() {
  n += 1;
  const dir = mkdtempSync(join(tmpdir(), 'hcp-provision-'));
  const terminalId = `T-PROV-${process.pid}-${n}`;
  const flags = {
    'terminal-id': terminalId,
    'area-code': '330106',
    'hall-code': '330106-ZWFW-01',
    'hall-name': '西湖区民生服务中心',
    window: '07',
    'broker-url': broker.url,
    username: 'hall-7',
    'serial-path': '/dev/ttyACM0',
    database: join(dir, 'data', 'hcp.db'),
    'printer-path': '/dev/ttyUSB0',
    'printer-columns': '48',
    'evaluation-url': 'https://hcp.province.example/rate',
  };
  const args = (overrides: Record<string, string | null> = {}): string[] =>
    Object.entries({ ...flags, ...overrides }).flatMap(([k, v]) => (v === null ? [] : [`--${k}`, v]));
  return { dir, terminalId, configFile: join(dir, 'etc', 'bridge.yaml'), args };
}

describe('hcp provision', () => {
  it('from flags: writes a config hcp run accepts, makes the key, registers and gets the province config', async () => {
    const { dir, terminalId, configFile, args } = setup();
    const run = await hcp(['provision', '-c', configFile, '--non-interactive', ...args(), '--register-timeout-seconds', '10'], 60_000, '', { HCP_MQTT_PASSWORD: 'secret-password' });
    expect(run.stderr).toBe('');
    const passwordFile = join(dir, 'etc', 'mqtt-password');
    expect(run.stdout).toContain(`password from HCP_MQTT_PASSWORD kept in ${passwordFile} (mode 600)`);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/province {4}registered; config received in \d+ ms \(reason catalogue 2026\.11, 3 reasons\)/);
    expect(run.stdout).not.toContain('secret-password');

    const config = loadConfigFile(configFile);
    expect(config).toMatchObject({
      terminal: { id: terminalId, areaCode: '330106', windowNo: '07', hallName: '西湖区民生服务中心' },
      mqtt: { url: broker.url, username: 'hall-7', passwordFile },
      printer: { path: '/dev/ttyUSB0', profile: { columns: 48 } },
    });
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    // The config holds no secret; the password is in its own file, where the bridge reads it.
    expect(readFileSync(configFile, 'utf8')).not.toContain('secret-password');
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    expect(brokerConnection(config, 'service').options.password).toBe('secret-password');
    const keyFile = join(dir, 'data', 'terminal-key.pem');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const publicKey = publicKeyText(createPublicKey(readFileSync(keyFile)));
    expect(run.stdout).toContain(publicKey);
    expect(province.registrations().get(terminalId)).toMatchObject({ publicKey, areaCode: '330106', windowNo: '07', online: false, provisioning: true });

    // Provisioned once: not again without --force, which keeps the key and the old file.
    const again = await hcp(['provision', '-c', configFile, '--non-interactive', ...args(), '--no-register']);
    expect(again).toMatchObject({ code: 2, stderr: expect.stringMatching(/exists: this terminal is provisioned already\. Give --force/) });
    const forced = await hcp(['provision', '-c', configFile, '--non-interactive', ...args({ window: '08' }), '--no-register', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/key .*\(kept: it was there\)/);
    expect(loadConfigFile(configFile).terminal.windowNo).toBe('08');
    expect(loadConfigFile(`${configFile}.bak`).terminal.windowNo).toBe('07');
  });

  it('refuses wrong and missing values, naming the flag and what is expected, and writes nothing', async () => {
    const { configFile, args } = setup();
    const run = await hcp(['provision', '-c', configFile, '--non-interactive', ...args({ 'area-code': '33010', window: null, 'broker-url': 'http://x' })]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--area-code: administrative area code (行政区划代码) must be 6 digits');
    expect(run.stderr).toContain('--window: required');
    expect(run.stderr).toContain('--broker-url: expected a broker URL such as mqtts://host:8883');
    expect(existsSync(configFile)).toBe(false);
  });

  it('a database folder that cannot be made: names --database, writes nothing, and the next run is not refused', async () => {
    const { dir, configFile, args } = setup();
    writeFileSync(join(dir, 'blocked'), 'a file where the folder should be');
    const run = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args({ database: join(dir, 'blocked', 'hcp.db') })]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--database: cannot make the folder .*blocked.*: .*not a folder/);
    expect(run.stderr).toContain('nothing written');
    expect(run.stderr).not.toContain('sudo');
    expect(existsSync(configFile)).toBe(false);
    const again = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args({ database: join(dir, 'data', 'hcp.db') })]);
    expect(again.code).toBe(0);
  });

  it('ports by address: a network printer and a terminal behind ser2net; a wrong address named by its flag', async () => {
    const { configFile, args } = setup();
    const bad = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args({ 'printer-path': 'COM3', 'serial-path': '/dev/usb/lp0' })]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--printer-path: expected a serial port path such as /dev/ttyUSB0, tcp://host:port, or /dev/usb/lp0');
    expect(bad.stderr).toContain('--serial-path: /dev/usb/lp0 is a USB printer-class device; expected a serial port path such as /dev/ttyUSB0, or tcp://host:port (ser2net)');
    const good = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args({ 'printer-path': 'tcp://192.168.1.50:9100', 'serial-path': 'tcp://10.0.0.9:4001' })]);
    expect(good.stderr).toBe('');
    expect(loadConfigFile(configFile)).toMatchObject({ serial: { path: 'tcp://10.0.0.9:4001' }, printer: { path: 'tcp://192.168.1.50:9100' } });
  });

  it('asks for what the flags leave out, and asks again after a wrong answer', async () => {
    const { configFile, args } = setup();
    // Area code, hall name, window, the password, the TLS files (none), no Arduino, and the printer are answered at the prompt.
    const answers = ['3301', '330106', '', '09', 'typed-secret', '', '', '', '', '/dev/ttyUSB1', '58', '32', 'https://hcp.province.example/rate'].join('\n');
    const run = await hcp(
      ['provision', '-c', configFile, '--no-register', ...args({ 'area-code': null, 'hall-name': null, window: null, 'printer-path': null, 'printer-columns': null, 'evaluation-url': null })],
      60_000,
      answers,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Area code (行政区划代码, 6 digits): ');
    expect(run.stdout).toContain('--area-code: administrative area code (行政区划代码) must be 6 digits');
    expect(run.stdout).toMatch(/--printer-columns: .*32.*48/);
    expect(loadConfigFile(configFile)).toMatchObject({ terminal: { areaCode: '330106', windowNo: '09' }, printer: { path: '/dev/ttyUSB1', profile: { columns: 32 } } });
    expect(brokerConnection(loadConfigFile(configFile), 'service').options.password).toBe('typed-secret');
    expect(loadConfigFile(configFile).terminal.hallName).toBeUndefined();
    expect(run.stdout).toContain('Broker password (optional): ');
    expect(run.stdout).toContain('password from the prompt');
    expect(run.stdout).not.toContain('typed-secret');
  });

  it('the password from --password-file (its one line; the line break is not part of it), never printed', async () => {
    const { dir, configFile, args } = setup();
    const file = join(dir, 'broker-password');
    writeFileSync(file, 'file-secret\n', { mode: 0o600 });
    const run = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args(), '--password-file', file]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`password from --password-file ${file}`);
    expect(run.stdout).not.toContain('file-secret');
    expect(brokerConnection(loadConfigFile(configFile), 'service').options.password).toBe('file-secret');
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
  });

  it('refuses a password on the command line, two sources at once, and a file that is not one line; writes nothing and never prints it', async () => {
    const { dir, configFile, args } = setup();
    const onArgv = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args(), '--password', 'argv-secret']);
    expect(onArgv.code).toBe(2);
    expect(onArgv.stderr).toMatch(/--password is refused: a password on the command line is seen by every user \(ps\).*give --password-file FILE.*set HCP_MQTT_PASSWORD, or type it at the prompt/);
    expect(onArgv.stderr + onArgv.stdout).not.toContain('argv-secret');

    const file = join(dir, 'two-lines');
    writeFileSync(file, 'line-one-secret\nline-two\n');
    const both = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args(), '--password-file', file], 60_000, '', { HCP_MQTT_PASSWORD: 'env-secret' });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--password-file and HCP_MQTT_PASSWORD are both given: give one');
    const twoLines = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args(), '--password-file', file]);
    expect(twoLines.code).toBe(2);
    expect(twoLines.stderr).toContain(`--password-file ${file}: the password contains a control character`);
    const missing = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args(), '--password-file', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--password-file .*nope: cannot read it: ENOENT/);
    for (const run of [both, twoLines, missing]) expect(run.stderr + run.stdout).not.toMatch(/line-one-secret|env-secret/);
    expect(existsSync(configFile)).toBe(false);
  });

  it('a password over plain mqtt:// to another host: refused; --allow-plaintext writes it with a loud warning', async () => {
    const { configFile, args } = setup();
    const lan = { 'broker-url': 'mqtt://broker.hall.example:1883' };
    const refused = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args(lan)], 60_000, '', { HCP_MQTT_PASSWORD: 'lan-secret' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--broker-url: mqtt:// to broker.hall.example sends the broker password unencrypted');
    expect(refused.stderr).toContain('use mqtts://broker.hall.example:8883');
    expect(refused.stderr).toContain('--allow-plaintext');
    expect(existsSync(configFile)).toBe(false);

    const lab = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', '--allow-plaintext', ...args(lan)], 60_000, '', { HCP_MQTT_PASSWORD: 'lan-secret' });
    expect(lab.code).toBe(0);
    expect(lab.stderr).toMatch(/WARNING \(--allow-plaintext\): mqtt:\/\/ to broker\.hall\.example sends the broker password unencrypted/);
    expect(lab.stdout).toContain('UNENCRYPTED');
    expect(loadConfigFile(configFile).mqtt.url).toBe('mqtt://broker.hall.example:1883');
    expect(brokerConnection(loadConfigFile(configFile), 'service').options.password).toBe('lan-secret');

    // Without a password nothing secret crosses: no refusal (e.g. a broker that takes client certificates).
    const noPassword = await hcp(['provision', '-c', `${configFile}.2`, '--non-interactive', '--no-register', ...args(lan)]);
    expect(noPassword.code).toBe(0);
  });

  it('an Arduino instead of a terminal MCU: the board and its pins, each pin checked', async () => {
    const { configFile, args } = setup();
    const board = { 'serial-path': null, 'board-path': '/dev/ttyACM0', buttons: '2,3,4,5,6', leds: '8, 9, 10, 11, 12', buzzer: '7' };
    const bad = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args({ ...board, buttons: '2,3,3,5,6', leds: '8,9' })]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--buttons: pin 3 is already used by button 2');
    expect(bad.stderr).toContain('--leds: expected 5 LED pins, one above each button, in the same order');
    const run = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args(board)]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('terminal    Arduino at /dev/ttyACM0: buttons 2,3,4,5,6, LEDs 8,9,10,11,12, buzzer 7');
    const config = loadConfigFile(configFile);
    expect(config.serial).toBeUndefined();
    expect(config.board).toMatchObject({ io: 'firmata', path: '/dev/ttyACM0', pins: { buttons: [2, 3, 4, 5, 6], leds: [8, 9, 10, 11, 12], buzzer: 7 } });
  });

  it("the Pi's own GPIO: the chip and the BCM numbers, each checked and named by its header pin", async () => {
    const { configFile, args } = setup();
    const gpio = { 'serial-path': null, 'gpio-chip': 'auto', 'gpio-buttons': '5,6,16,20,21', 'gpio-leds': '17,27,22,23,24', 'gpio-buzzer': '18' };
    const bad = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args({ ...gpio, 'gpio-buzzer': '17' })]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--gpio-buzzer: GPIO 17 (header pin 11) is already used by LED 1');
    const run = await hcp(['provision', '-c', configFile, '--non-interactive', '--no-register', ...args(gpio)]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain("terminal    the Pi's GPIO (chip auto, BCM numbers, pull-up): buttons 5,6,16,20,21, LEDs 17,27,22,23,24, buzzer 18");
    expect(loadConfigFile(configFile).board).toEqual({ io: 'gpio', chip: 'auto', pins: { buttons: [5, 6, 16, 20, 21], leds: [17, 27, 22, 23, 24], buzzer: 18 }, bias: 'pull-up', debounceMs: 10 });
  });

  it('a province that does not answer: the config is written, the report says what to do, exit 3', async () => {
    const { configFile, args, terminalId } = setup();
    const run = await hcp(['provision', '-c', configFile, '--non-interactive', ...args({ 'broker-url': quietBroker.url }), '--register-timeout-seconds', '1']);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/province {4}NOT registered: registered on hcp\/v1\/T-PROV-\S+\/state, but the province sent no config on \S+ within 1 s/);
    expect(run.stdout).toContain(`fix: ask the provincial operator to accept terminal ${terminalId}`);
    expect(quietProvince.registrations().has(terminalId)).toBe(true);
    expect(loadConfigFile(configFile).terminal.id).toBe(terminalId);
  });

  it('a broker that refuses the connection: a clear reason and fix', async () => {
    const { configFile, args } = setup();
    const run = await hcp(['provision', '-c', configFile, '--non-interactive', ...args({ 'broker-url': 'mqtt://127.0.0.1:1' }), '--register-timeout-seconds', '2']);
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('NOT registered: mqtt://127.0.0.1:1 is unreachable: connection refused');
    expect(run.stdout).toContain('fix: check the host and port in mqtt.url');
  });
});
