import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig, terminalPort } from '../../bridge/config.js';

const valid = {
  terminal: { id: 'T-330106-A03', areaCode: '330106', hallCode: 'XH-01', windowNo: 'A03' },
  serial: { path: '/dev/ttyUSB0' },
  mqtt: { url: 'mqtts://province.example:8883' },
  database: { path: '/var/lib/hcp/hcp.db' },
};

const dir = mkdtempSync(join(tmpdir(), 'hcp-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('bridge config', () => {
  it('fills defaults for what may be left out', () => {
    const config = parseConfig(valid);
    expect(config.serial?.baudRate).toBe(115200);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080, allowedHosts: [], allowUnverifiedStaff: false });
    expect(config.mqtt.gradeProfile).toBe('provincial-5-high');
    expect(config.invitation.timeoutSeconds).toBe(30);
  });

  it('names the field and what is expected for each bad value', () => {
    expect(problemsOf({ ...valid, terminal: { ...valid.terminal, areaCode: '33010' } })).toEqual([
      'terminal.areaCode: administrative area code (行政区划代码) must be 6 digits',
    ]);
    expect(problemsOf({ ...valid, mqtt: { url: 'http://x' } })[0]).toMatch(/^mqtt\.url: expected a broker URL/);
    expect(problemsOf({ ...valid, mqtt: { ...valid.mqtt, gradeProfile: 'reverse' } })[0]).toMatch(/^mqtt\.gradeProfile: /);
    expect(problemsOf({ ...valid, mqtt: { ...valid.mqtt, recordFormat: 'v9' } })).toEqual(['mqtt.recordFormat: Invalid option: expected one of "v1"|"v2"']);
    expect(problemsOf({ ...valid, serial: {} })[0]).toMatch(/^serial\.path: /);
    expect(problemsOf({ ...valid, extra: 1 })[0]).toMatch(/extra/);
  });

  it('takes TLS files for the broker: a client certificate and its key together, or neither', () => {
    expect(parseConfig({ ...valid, mqtt: { ...valid.mqtt, tls: { ca: '/etc/hcp/ca.pem' } } }).mqtt.tls).toEqual({ ca: '/etc/hcp/ca.pem' });
    expect(problemsOf({ ...valid, mqtt: { ...valid.mqtt, tls: { cert: '/etc/hcp/c.pem' } } })).toEqual([
      'mqtt.tls.key: a client certificate needs its key: give both or neither',
    ]);
    expect(problemsOf({ ...valid, mqtt: { ...valid.mqtt, tls: { key: '/etc/hcp/k.pem' } } })).toEqual(['mqtt.tls.cert: a key needs its client certificate: give both or neither']);
  });

  it('requires an API token when the API listens beyond localhost', () => {
    expect(problemsOf({ ...valid, http: { host: '0.0.0.0' } })).toEqual([
      'http.token: a token is required when the API listens beyond localhost: set http.token (16+ characters)',
    ]);
    expect(parseConfig({ ...valid, http: { host: '0.0.0.0', token: 'a-long-enough-token' } }).http.token).toBe('a-long-enough-token');
  });

  it('takes http.allowedHosts as names or addresses without port, in lower case', () => {
    expect(parseConfig({ ...valid, http: { allowedHosts: ['Window3.hall.local.', '192.168.1.23', '[fd00::1]'] } }).http.allowedHosts).toEqual(['window3.hall.local', '192.168.1.23', '[fd00::1]']);
    expect(problemsOf({ ...valid, http: { allowedHosts: ['window3.hall.local:8080'] } })[0]).toMatch(/^http\.allowedHosts\.0: a host name or address without port/);
  });

  describe('the terminal: serial or board', () => {
    const { serial: _serial, ...withoutTerminal } = valid;
    const board = { path: '/dev/ttyACM0', pins: { buttons: [2, 3, 4, 5, 6], leds: [8, 9, 10, 11, 12], buzzer: 7 } };

    it('takes a board instead of a serial line, with its defaults', () => {
      const config = parseConfig({ ...withoutTerminal, board });
      expect(config.serial).toBeUndefined();
      expect(config.board).toEqual({ io: 'firmata', baudRate: 57600, buttonPullup: true, ...board });
      expect(terminalPort(config)).toEqual({ path: '/dev/ttyACM0', baudRate: 57600 });
      expect(terminalPort(parseConfig(valid))).toEqual({ path: '/dev/ttyUSB0', baudRate: 115200 });
    });

    it('wants exactly one of serial and board', () => {
      expect(problemsOf(withoutTerminal)).toEqual([
        "serial: the terminal connection is required: give serial (a terminal on a serial line) or board (its buttons on an Arduino running StandardFirmata, or on the Pi's own GPIO)",
      ]);
      expect(problemsOf({ ...valid, board })).toEqual(['board: give serial or board, not both: a bridge serves one terminal']);
    });

    it('wants five distinct buttons and five LEDs, no pin used twice, and not the USB serial pins', () => {
      const pins = (over: object): unknown => ({ ...withoutTerminal, board: { ...board, pins: { ...board.pins, ...over } } });
      expect(problemsOf(pins({ buttons: [2, 3, 4, 5] }))).toEqual(['board.pins.buttons: expected 5 button pins, left to right (非常满意 … 非常不满意)']);
      expect(problemsOf(pins({ leds: [8, 9, 10, 11, 12, 13] }))).toEqual(['board.pins.leds: expected 5 LED pins, one above each button, in the same order']);
      expect(problemsOf(pins({ buttons: [2, 3, 4, 3, 6] }))).toEqual(['board.pins.buttons.3: pin 3 is already used by button 2']);
      expect(problemsOf(pins({ leds: [8, 9, 6, 11, 12], buzzer: 8 }))).toEqual([
        'board.pins.leds.2: pin 6 is already used by button 5',
        'board.pins.buzzer: pin 8 is already used by LED 1',
      ]);
      expect(problemsOf(pins({ buttons: [1, 3, 4, 5, 6] }))).toEqual([
        'board.pins.buttons.0: D0 and D1 carry the USB serial line to the Arduino: use pins from 2 up',
      ]);
      expect(problemsOf({ ...withoutTerminal, board: { ...board, io: 'raspi-io' } })).toEqual([
        'board.io: expected "firmata" (an Arduino running StandardFirmata over USB) or "gpio" (the Raspberry Pi\'s own GPIO header; see docs/wiring.md)',
      ]);
    });

    describe("the Pi's own GPIO (board.io gpio)", () => {
      const gpio = { io: 'gpio', pins: { buttons: [5, 6, 16, 20, 21], leds: [17, 27, 22, 23, 24], buzzer: 18 } };
      const withPins = (over: object, rest: object = {}): unknown => ({ ...withoutTerminal, board: { ...gpio, pins: { ...gpio.pins, ...over } }, ...rest });

      it('takes BCM numbers, with the chip found by itself, pull-ups and 10 ms of debounce by default', () => {
        const config = parseConfig({ ...withoutTerminal, board: gpio });
        expect(config.board).toEqual({ ...gpio, chip: 'auto', bias: 'pull-up', debounceMs: 10 });
        expect(terminalPort(config)).toEqual({ path: '/dev/gpiochip*', baudRate: 115200 });
        const named = (chip: string): string => terminalPort(parseConfig({ ...withoutTerminal, board: { ...gpio, chip } })).path;
        expect([named('/dev/gpiochip4'), named('gpiochip0'), named('pinctrl-rp1')]).toEqual(['/dev/gpiochip4', '/dev/gpiochip0', '/dev/gpiochip*[pinctrl-rp1]']);
      });

      it('names the header pin of a line out of range, reserved or used twice', () => {
        expect(problemsOf(withPins({ buttons: [5, 6, 16, 20, 28] }))).toEqual(['board.pins.buttons.4: expected a BCM GPIO number from 2 to 27 (the header has no GPIO above 27)']);
        expect(problemsOf(withPins({ buzzer: 0 }))).toEqual(['board.pins.buzzer: GPIO 0 (header pin 27) is ID_SD, the HAT identification EEPROM (keep GPIO 0 and 1 free)']);
        expect(problemsOf(withPins({ leds: [17, 27, 22, 23, 5] }))).toEqual(['board.pins.leds.4: GPIO 5 (header pin 29) is already used by button 1']);
        expect(problemsOf(withPins({ buttons: [5, 6, 16, 20, 2.5] }))).toEqual(['board.pins.buttons.4: expected a BCM GPIO number, e.g. 17 for GPIO 17 (header pin 11)']);
      });

      it("leaves GPIO 14 and 15 to a printer on the Pi's UART", () => {
        const printer = (path: string): object => ({ printer: { path, evaluationUrl: 'https://hcp.province.example/rate' } });
        expect(problemsOf(withPins({ buttons: [5, 6, 16, 14, 21] }, printer('/dev/serial0')))).toEqual([
          "board.pins.buttons.3: GPIO 14 (header pin 8) carries the Pi's UART, which printer.path /dev/serial0 uses: choose another GPIO",
        ]);
        expect(parseConfig(withPins({ buttons: [5, 6, 16, 14, 21] }, printer('/dev/ttyUSB0'))).board?.pins.buttons).toContain(14);
      });

      it('refuses a chip name the tools would take for an option, a bias it does not know, and a debounce that swallows presses', () => {
        expect(problemsOf({ ...withoutTerminal, board: { ...gpio, chip: '--help' } })).toEqual(["board.chip: a chip name cannot start with '-'"]);
        expect(problemsOf({ ...withoutTerminal, board: { ...gpio, chip: '/dev/ttyAMA0' } })).toEqual(['board.chip: a chip path is /dev/gpiochipN (gpiodetect lists them)']);
        expect(problemsOf({ ...withoutTerminal, board: { ...gpio, bias: 'up' } })).toEqual([
          'board.bias: expected pull-up (buttons to ground, the usual), pull-down (buttons to 3.3 V) or none (external pull-up resistors)',
        ]);
        expect(problemsOf({ ...withoutTerminal, board: { ...gpio, debounceMs: 5000 } })).toEqual(['board.debounceMs: at most 1000 ms: a longer debounce swallows real presses']);
        expect(problemsOf({ ...withoutTerminal, board: { ...gpio, path: '/dev/ttyACM0' } })).toEqual([expect.stringMatching(/^board: Unrecognized key: "path"/)]);
      });
    });

    it('refuses a printer on the terminal port', () => {
      const printer = { path: '/dev/ttyACM0', evaluationUrl: 'https://hcp.province.example/rate' };
      expect(problemsOf({ ...withoutTerminal, board, printer })).toEqual(["printer.path: /dev/ttyACM0 is the terminal's port; the printer needs its own"]);
    });
  });

  it('reports a file that is missing or not YAML, with its path', () => {
    expect(() => loadConfigFile(join(dir, 'none.yaml'))).toThrow(/cannot read config file .*none\.yaml/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'terminal: [unclosed');
    expect(() => loadConfigFile(bad)).toThrow(/is not valid YAML/);
    const wrong = join(dir, 'wrong.yaml');
    writeFileSync(wrong, 'terminal:\n  id: "has space"\n');
    expect(() => loadConfigFile(wrong)).toThrow(/config file .*wrong\.yaml is invalid:\n {2}- terminal\.id: terminal id/);
  });
});

describe('what cannot work on this machine is refused at load, with the reason', () => {
  it('refuses a database in memory: a bridge that loses every record at restart', () => {
    expect(problemsOf({ ...valid, database: { path: ':memory:' } })).toEqual([expect.stringMatching(/^database\.path: .*file/)]);
    expect(problemsOf({ ...valid, database: { path: '' } })).toEqual([expect.stringMatching(/^database\.path: /)]);
  });

  it('refuses a baud rate no serial line can be set to', () => {
    expect(problemsOf({ ...valid, serial: { path: '/dev/ttyUSB0', baudRate: 1e15 } })).toEqual(['serial.baudRate: Too big: expected number to be <=4000000']);
  });

  it.each(['/dev/zero', '/dev/null'])('refuses %s as the config file without reading it forever', (device) => {
    expect(() => loadConfigFile(device)).toThrow(new RegExp(`${device} is not a regular file`));
  });

  it('refuses a FIFO as the config file without waiting for a writer', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => loadConfigFile(fifo)).toThrow(/is not a regular file/);
  });

  it('refuses a config file too large to be one, without reading it whole', () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    expect(() => loadConfigFile(big)).toThrow(/is 2\d{6} bytes: a config file is at most 1048576/);
  });
});

describe('docs/bridge.example.yaml', () => {
  const example = join(import.meta.dirname, '../../docs/bridge.example.yaml');

  it('offers a valid board alternative to the serial line (commented out)', () => {
    const text = readFileSync(example, 'utf8')
      .replace(/^serial:\n(?: {2}.*\n)+/m, '')
      .replace(/^# (board:\n)((?:# {3}.*\n)+)/m, (_, head: string, body: string) => head + body.replace(/^# /gm, ''));
    const file = join(dir, 'board.yaml');
    writeFileSync(file, text);
    const config = loadConfigFile(file);
    expect(config.serial).toBeUndefined();
    expect(config.board).toEqual({ io: 'firmata', path: '/dev/ttyACM0', baudRate: 57600, pins: { buttons: [2, 3, 4, 5, 6], leds: [8, 9, 10, 11, 12], buzzer: 7 }, buttonPullup: true });
  });

  it("offers a valid Pi-GPIO board too (commented out, after the Arduino's)", () => {
    const blocks = [...readFileSync(example, 'utf8').matchAll(/^# (board:\n)((?:# {3}.*\n)+)/gm)];
    expect(blocks).toHaveLength(2);
    const [, head, body] = blocks[1] as RegExpMatchArray;
    const text = readFileSync(example, 'utf8').replace(/^serial:\n(?: {2}.*\n)+/m, '') + head + (body as string).replace(/^# /gm, '');
    const file = join(dir, 'gpio.yaml');
    writeFileSync(file, text);
    expect(loadConfigFile(file).board).toEqual({ io: 'gpio', chip: 'auto', pins: { buttons: [5, 6, 16, 20, 21], leds: [17, 27, 22, 23, 24], buzzer: 18 }, bias: 'pull-up', debounceMs: 10 });
  });

  it('offers a valid customer screen section (commented out)', () => {
    const text = readFileSync(example, 'utf8').replace(/^# (screen:\n)((?:# {3}.*\n)+)/m, (_, head: string, body: string) => head + body.replace(/^# /gm, ''));
    const file = join(dir, 'screen.yaml');
    writeFileSync(file, text);
    expect(loadConfigFile(file).screen).toEqual({ host: '127.0.0.1', port: 8081, allowedHosts: [], showStars: true, thanksSeconds: 15 });
  });

  it('is a valid config', () => {
    const config = loadConfigFile(example);
    expect(config.terminal.areaCode).toBe('330106');
    expect(config.mqtt.gradeProfile).toBe('provincial-5-high');
  });
});
