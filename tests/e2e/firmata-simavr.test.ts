import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeConfigInput } from '../../bridge/config.js';
import type { BridgeStatus } from '../../bridge/status/status.js';
import { FIRMWARE_VERSION } from '../../firmware/core/terminal-core.js';
import { buildUnoSimulator } from '../../simulator/avr/build-uno-sim.js';
import { invitationIdOf } from '../../simulator/sim-window.js';
import { notAudit } from '../support/audit-events.js';
import { BridgeProcess } from '../support/bridge-process.js';
import { useBrokerAndProvince } from '../support/broker-and-province.js';
import { hcp } from '../support/run-hcp.js';
import { buttonSettles } from '../support/in-process-terminal.js';
import { SimulatedUno } from '../support/simavr-uno.js';

/*
 * The Arduino path against the firmware a technician uploads: the stock StandardFirmata, compiled
 * for an Uno, running instruction by instruction in simavr (simulator/avr/uno-uart-pty.c), its
 * UART on a pty that the real bridge (`hcp run`, a child process, config `board` on that pty)
 * opens as it opens /dev/ttyACM0. Its buttons are pressed on the simulated port and its LEDs read
 * from the port's register: firmata.js, johnny-five and the firmware core in the bridge, nothing
 * emulated in TypeScript between them and the sketch.
 */

/** docs/wiring.md's Arduino pins. */
const PINS = { buttons: [2, 3, 4, 5, 6], leds: [8, 9, 10, 11, 12], buzzer: 7 };
const TERMINAL_ID = `T-UNO-${process.pid}`;
const SERVICE = { itemCode: '330106-XK-0012', itemName: '食品经营许可' };

const env = useBrokerAndProvince('hcp-simavr-');

/** The terminal on the simulated Uno, on the file's broker. */
const config = (): BridgeConfigInput => ({
  terminal: { id: TERMINAL_ID, areaCode: '330106', hallCode: '330106-ZWFW-01', windowNo: 'U01' },
  board: { io: 'firmata', path: uno.path, pins: PINS },
  mqtt: { url: env.broker.url },
  database: { path: join(env.dir, 'uno.db') },
  clock: { trust: 'system' },
  invitation: { flags: { minPressMs: 0 } },
});
let uno: SimulatedUno;
let bridge: BridgeProcess;

beforeAll(async () => {
  uno = await SimulatedUno.start();
  bridge = await BridgeProcess.start({ config: config() });
}, 60_000);

afterAll(async () => {
  // Bridge first: its last words (LEDs off) go to a board still there.
  await bridge?.stop();
  await uno?.stop();
});

const leds = (): boolean[] => PINS.leds.map((pin) => uno.high(pin));
const only = (button: number): boolean[] => PINS.leds.map((_, i) => i === button);
/** The terminal linked (its hello heard) in a boot other than `boot`, and the broker connected. */
const linkedAfter =
  (boot: string | undefined) =>
  ({ link, broker }: BridgeStatus): boolean =>
    link.alive && !!link.terminal && link.terminal.boot !== boot && broker.connected;

/** Waits for the terminal's hello (a boot other than `after`) and for every button's pull-up on the Uno; resolves with the status. */
async function terminalUp(after?: string): Promise<BridgeStatus> {
  const status = await bridge.waitForStatus(linkedAfter(after), 'the terminal on the simulated Uno to say hello', { timeoutMs: 30_000 });
  await uno.waitFor(() => PINS.buttons.every((pin) => uno.pin(pin) === 'pullup'), 'the pull-up on every button');
  await uno.waitFor(() => leds().every((lit) => !lit), 'every LED off at rest');
  // johnny-five's debounce and the core's time of quiet take the buttons' first reading.
  await buttonSettles();
  return status;
}

/** Invites for a case, presses `button` on the simulated port until the terminal has it (its LED alone lit), lets go: the invitation's id. */
async function inviteAndPress(button: number, caseNo: string): Promise<string> {
  const beeps = uno.rises(PINS.buzzer);
  const id = invitationIdOf(await bridge.api('POST', '/api/v1/invitations', { services: [{ ...SERVICE, caseNo }] }));
  await uno.waitFor(() => leds().every(Boolean), 'every LED lit for the invitation');
  await uno.waitFor(() => uno.rises(PINS.buzzer) > beeps && uno.pin(PINS.buzzer) === 'low', 'the buzzer to beep for the invitation');
  const pin = PINS.buttons[button] as number;
  uno.press(pin);
  await uno.waitFor(() => leds().join() === only(button).join(), `only LED ${button + 1} lit`);
  uno.release(pin);
  return id;
}

/** The province's records of the terminal (audit aside), once the bridge has every ack: exactly `ids`, once each. */
async function deliveredOnce(ids: readonly string[]) {
  await env.province.waitFor(() => ids.every((id) => env.province.recordsOf(TERMINAL_ID).some((r) => r.id === id)), { timeoutMs: 15_000 });
  await bridge.waitForStatus((s) => s.backlog.pending === 0, 'the province to acknowledge everything');
  const records = env.province.recordsOf(TERMINAL_ID).filter(notAudit);
  expect(records.map((r) => (r.kind === 'event' ? `${r.id} (${r.type})` : r.id)).sort()).toEqual([...ids].sort());
  return ids.map((id) => records.find((r) => r.id === id));
}

describe('the bridge on StandardFirmata running in simavr (an Uno on a pty)', () => {
  let firstId: string;

  it('comes up (hello, LEDs off), and a press on the simulated pin reaches the province once', async () => {
    const status = await terminalUp();
    expect(status.link.terminal).toMatchObject({ fw: FIRMWARE_VERSION, serial: TERMINAL_ID });
    // The bridge's open reset the board, as an Uno's DTR does: the sketch announced itself to it.
    expect(uno.resets).toBe(1);
    expect((await bridge.api('POST', '/api/v1/staff/sign-in', { staffId: 'S3001' })).status).toBe(200);

    firstId = await inviteAndPress(3, 'UNO-1');

    const [record] = await deliveredOnce([firstId]);
    expect(record).toMatchObject({ kind: 'invitation', outcome: 'rated', staffId: 'S3001', rating: { grade: 'dissatisfied', gradeCode: 2 } });
    expect(leds()).toEqual(only(3));
  }, 60_000);

  it('after the cable is pulled (simulator killed) and plugged in again (a new run), comes back as a new boot and rates again', async () => {
    const boot = (await bridge.status()).link.terminal?.boot;
    await uno.unplug();
    await bridge.waitForStatus((s) => !s.link.portOpen, 'the bridge to see the Arduino go away');

    await uno.plug();
    await terminalUp(boot);
    expect(uno.resets).toBe(2);

    const secondId = await inviteAndPress(1, 'UNO-2');
    const [first, second] = await deliveredOnce([firstId, secondId]);
    expect(first).toMatchObject({ outcome: 'rated', rating: { grade: 'dissatisfied' } });
    expect(second).toMatchObject({ kind: 'invitation', outcome: 'rated', rating: { grade: 'satisfied' } });
    expect(env.province.rejections()).toEqual([]);
  }, 60_000);

  it('turns the LEDs off on the Uno when the bridge stops (its last words reach the sketch)', async () => {
    await uno.waitFor(() => leds().some(Boolean), 'the chosen grade still lit');
    expect(await bridge.stop()).toEqual({ code: 0, signal: null });
    await uno.waitFor(() => leds().every((lit) => !lit) && uno.pin(PINS.buzzer) === 'low', 'the LEDs and the buzzer off');
  }, 30_000);

  it('hcp doctor names the sketch on the Uno, as the Uno reports it', async () => {
    const file = join(env.dir, 'doctor.json');
    writeFileSync(file, JSON.stringify(config()));
    const resets = uno.resets;
    const { stdout } = await hcp(['doctor', '--config', file, '--timeout-seconds', '10']);
    expect(stdout).toContain(`✔ terminal port: ${uno.path}`);
    // The stock sketch (Firmata library 2.5) reports protocol 2.5 (REPORT_VERSION f9 02 05).
    expect(stdout).toContain(
      `✔ terminal: answers on the Arduino at ${uno.path}, running StandardFirmata.ino 2.5 (Firmata protocol 2.5): serial ${TERMINAL_ID}, firmware ${FIRMWARE_VERSION}, protocol v1`,
    );
    expect(uno.resets).toBe(resets + 1);
  }, 60_000);
});

describe('the simulated Uno’s command channel', () => {
  it('answers every line but a press or release of one of its pins with an error naming it, and runs on', async () => {
    const alone = await SimulatedUno.start();
    try {
      let marks = 0;
      /** Sends the lines and a marker line (refused, so answered): resolves once the marker's answer is in. */
      const answered = async (lines: readonly string[]): Promise<string[]> => {
        const from = alone.errors.length;
        const mark = `mark-${++marks}`;
        alone.writeRaw([...lines, mark].map((line) => `${line}\n`).join(''));
        await alone.waitFor(() => alone.errors.at(-1) === `unknown command: ${mark}`, `the answer to ${mark}`);
        return alone.errors.slice(from, -1);
      };
      const valid = fc.tuple(fc.constantFrom('press', 'release'), fc.integer({ min: 0, max: 19 })).map(([verb, pin]) => `${verb} ${pin}`);
      // No newline (it ends a line) and no NUL (C's string functions end there); shorter than its 255-byte buffer.
      const other = fc.string({ minLength: 1, maxLength: 60 }).filter((line) => !/[\n\0]/.test(line) && !/^\s*(press|release)\s+[+-]?\d/.test(line));
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(valid, other), { maxLength: 8 }), async (lines) => {
          const refused = lines.filter((line) => !/^(press|release) \d+$/.test(line));
          expect(await answered(lines)).toEqual(refused.map((line) => `unknown command: ${line}`));
        }),
        { numRuns: 40 },
      );
      expect(await answered(['press 20', 'release -1', 'press 3 4'])).toEqual(['unknown command: press 20', 'unknown command: release -1', 'unknown command: press 3 4']);
      expect(alone.plugged).toBe(true);
    } finally {
      await alone.stop();
    }
  }, 60_000);
});

describe('building the simulated Uno', () => {
  it('names the Debian packages when simavr’s headers are missing', async () => {
    await expect(buildUnoSimulator({ includeDir: join(env.dir, 'no-simavr-here') })).rejects.toThrow(
      /sim_avr\.h, .*uart_pty\.h missing; install Debian's simavr: sudo apt-get install simavr libsimavr-dev libsimavrparts1$/,
    );
  });

  it('names the compiler it could not find', async () => {
    await expect(buildUnoSimulator({ cc: 'no-such-cc-here', cacheDir: join(env.dir, 'cache') })).rejects.toThrow(
      'cannot build the simulated Uno: no C compiler no-such-cc-here (set CC, or: sudo apt-get install gcc libc6-dev)',
    );
  });

  it('compiles once per version of the source: the cached program is reused', async () => {
    const binary = await buildUnoSimulator();
    const built = statSync(binary).mtimeMs;
    expect(await buildUnoSimulator()).toBe(binary);
    expect(statSync(binary).mtimeMs).toBe(built);
    expect(binary).toMatch(/uno-uart-pty-[0-9a-f]{16}$/);
  });
});
