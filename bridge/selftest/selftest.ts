import { BUTTON_COUNT, GRADE_INFO, GRADES } from '../../protocol/grades.js';

/*
 * The terminal's self-test: every part a citizen relies on, checked in the order a technician
 * works (terminal link, each button, each LED, the buzzer, the printer, the way to the province).
 * The steps talk to the bridge's parts through SelftestParts, and to the technician through
 * SelftestIO: a console in `hcp selftest`, nobody at all for the province's `selftest` command.
 */

export type StepOutcome = 'pass' | 'fail' | 'skip';

export interface StepResult {
  /** Machine name, e.g. "button-2", "printer". */
  step: string;
  outcome: StepOutcome;
  /** What was found, for a person. */
  message: string;
  /** For a failure: the likely fix. */
  fix?: string;
}

export interface SelftestReport {
  passed: boolean;
  startedAt: string;
  steps: StepResult[];
  /** The id of the `selftest` event record sent to the province (test: true, never counted). */
  recordId: string | null;
}

export interface SelftestIO {
  /** An instruction for the person at the counter. */
  say(text: string): void;
  /** A yes/no question about what they see or hear; absent when nobody is there (remote). */
  confirm?(question: string): Promise<boolean>;
}

export type TestFrame = { active: boolean; leds: boolean[]; beepMs: number };

export interface SelftestParts {
  /** Resolves with the terminal's identity once it has said hello, or null after `ms`. */
  terminalHello(ms: number): Promise<{ fw: string; serial: string; proto: number } | null>;
  /** Sends a test-mode frame; resolves true once the terminal took it, false after `ms`. */
  sendTest(frame: TestFrame, ms: number): Promise<boolean>;
  /** Resolves with the next button pressed in test mode (0-based), or null after `ms`. */
  nextPress(ms: number): Promise<number | null>;
  /** Prints a test receipt and resolves when it is out; undefined when there is no printer. */
  printTestReceipt?(ms: number): Promise<{ printed: true; url: string } | { printed: false; reason: string }>;
  /** Stores a `selftest` event record (test: true) and returns its id. */
  storeRecord(detail: Record<string, string | number | boolean | null>): string;
  /** Resolves with the province's answer for that record, or null after `ms`. */
  provinceAnswer(id: string, ms: number): Promise<{ status: 'accepted' | 'duplicate' | 'rejected'; reason?: string } | null>;
  /** One line about the broker connection, for a failure message. */
  brokerState(): string;
  now(): Date;
}

export interface SelftestTimeouts {
  helloMs: number;
  pressMs: number;
  printMs: number;
  provinceMs: number;
}

export const DEFAULT_SELFTEST_TIMEOUTS: SelftestTimeouts = { helloMs: 10_000, pressMs: 30_000, printMs: 30_000, provinceMs: 30_000 };

const BUTTON_NAMES = GRADES.map((grade, i) => `button ${i + 1} (${GRADE_INFO[grade].zh})`);
const ALL_OFF: boolean[] = new Array<boolean>(BUTTON_COUNT).fill(false);
const show = (leds: boolean[], beepMs = 0): TestFrame => ({ active: true, leds, beepMs });
/** How long the terminal has to take a test-mode frame (it is resent meanwhile). */
const TEST_FRAME_MS = 5000;
const END_TEST: TestFrame = { active: false, leds: ALL_OFF, beepMs: 0 };
const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

export async function runSelftest(
  parts: SelftestParts,
  io: SelftestIO,
  onStep: (result: StepResult) => void = () => {},
  timeouts: SelftestTimeouts = DEFAULT_SELFTEST_TIMEOUTS,
): Promise<SelftestReport> {
  const startedAt = parts.now().toISOString();
  const steps: StepResult[] = [];
  const record = (result: StepResult): void => {
    steps.push(result);
    onStep(result);
  };

  const hello = await parts.terminalHello(timeouts.helloMs);
  record(
    hello
      ? { step: 'terminal', outcome: 'pass', message: `firmware ${hello.fw}, serial ${hello.serial}, protocol ${hello.proto}` }
      : {
          step: 'terminal',
          outcome: 'fail',
          message: `no hello from the terminal within ${seconds(timeouts.helloMs)}`,
          fix: "check the terminal cable and power, and serial.path / board in the config (on the Pi's GPIO: the gpiod tools, the gpio group and board.chip); `hcp doctor` tells more",
        },
  );
  if (hello) {
    for (const result of await terminalSteps(parts, io, timeouts.pressMs)) record(result);
  } else {
    for (const step of ['buttons', 'leds', 'buzzer']) record({ step, outcome: 'skip', message: 'the terminal is not answering' });
  }
  record(await printerStep(parts, io, timeouts.printMs));

  // The round trip carries the results so far: the province sees what the technician saw.
  const failed = steps.filter((s) => s.outcome === 'fail').map((s) => s.step);
  const recordId = parts.storeRecord({ failed: failed.join(',') || null, steps: steps.length, device: hello?.serial ?? null });
  const sentAt = parts.now().getTime();
  const answer = await parts.provinceAnswer(recordId, timeouts.provinceMs);
  record(
    answer === null
      ? {
          step: 'province',
          outcome: 'fail',
          message: `test record ${recordId} not acknowledged within ${seconds(timeouts.provinceMs)} (${parts.brokerState()})`,
          fix: 'check mqtt.url, the credentials and the network; `hcp doctor` checks the broker; the record stays queued and goes when the link is back',
        }
      : answer.status === 'rejected'
        ? { step: 'province', outcome: 'fail', message: `the province rejected the test record: ${answer.reason ?? 'no reason given'}`, fix: 'tell the provincial operator; the terminal id may not be registered' }
        : { step: 'province', outcome: 'pass', message: `test record ${recordId} acknowledged (${answer.status}) in ${parts.now().getTime() - sentAt} ms` },
  );
  return { passed: steps.every((s) => s.outcome !== 'fail'), startedAt, steps, recordId };
}

/** Buttons, LEDs and buzzer: they need someone at the counter, to press and to look. */
async function terminalSteps(parts: SelftestParts, io: SelftestIO, pressMs: number): Promise<StepResult[]> {
  const { confirm } = io;
  if (!confirm) {
    return ['buttons', 'leds', 'buzzer'].map((step) => ({ step, outcome: 'skip', message: 'needs a person at the counter (run hcp selftest there)' }));
  }
  const results: StepResult[] = [];
  try {
    for (const [index, name] of BUTTON_NAMES.entries()) {
      // Asked only once the terminal is in its test mode: a press before that would be a stray.
      if (!(await parts.sendTest(show(ALL_OFF), TEST_FRAME_MS))) {
        results.push({ step: `button-${index + 1}`, outcome: 'fail', message: `the terminal did not take the test frame within ${seconds(TEST_FRAME_MS)}`, fix: 'run `hcp doctor`: the serial line to the terminal' });
        continue;
      }
      io.say(`Press ${name}.`);
      const pressed = await parts.nextPress(pressMs);
      results.push(
        pressed === index
          ? { step: `button-${index + 1}`, outcome: 'pass', message: `${name} pressed` }
          : pressed === null
            ? { step: `button-${index + 1}`, outcome: 'fail', message: `no press of ${name} within ${seconds(pressMs)}`, fix: `check ${name}'s wiring to its input pin and to ground` }
            : {
                step: `button-${index + 1}`,
                outcome: 'fail',
                message: `expected ${name}, the terminal saw ${BUTTON_NAMES[pressed] ?? `button ${pressed + 1}`}`,
                fix: 'the buttons are wired in another order than the config says: swap the wires or the pins',
              },
      );
    }
    for (const index of ALL_OFF.keys()) {
      await parts.sendTest(show(ALL_OFF.map((_, i) => i === index)), TEST_FRAME_MS);
      const lit = await confirm(`Is the LED over button ${index + 1} lit, and no other?`);
      results.push(
        lit
          ? { step: `led-${index + 1}`, outcome: 'pass', message: `LED ${index + 1} lit alone` }
          : { step: `led-${index + 1}`, outcome: 'fail', message: `LED ${index + 1} not seen lit alone`, fix: `check LED ${index + 1}: polarity (long leg to the resistor), its resistor and its pin` },
      );
    }
    await parts.sendTest(show(ALL_OFF, 600), TEST_FRAME_MS);
    const heard = await confirm('Did the buzzer sound just now?');
    results.push(
      heard
        ? { step: 'buzzer', outcome: 'pass', message: 'buzzer heard' }
        : { step: 'buzzer', outcome: 'fail', message: 'buzzer not heard', fix: 'check the buzzer: an active buzzer, its transistor and 5 V supply, and its pin' },
    );
  } finally {
    await parts.sendTest(END_TEST, TEST_FRAME_MS);
  }
  return results;
}

async function printerStep(parts: SelftestParts, io: SelftestIO, printMs: number): Promise<StepResult> {
  if (!parts.printTestReceipt) return { step: 'printer', outcome: 'skip', message: 'no printer configured' };
  io.say('Printing a test receipt…');
  const printed = await parts.printTestReceipt(printMs);
  if (!printed.printed) {
    return { step: 'printer', outcome: 'fail', message: `no test receipt: ${printed.reason}`, fix: 'check paper, cover and cable; `hcp doctor` reads the printer status' };
  }
  if (io.confirm && !(await io.confirm('Did a test receipt with a QR code come out, and does the QR code scan?'))) {
    return { step: 'printer', outcome: 'fail', message: 'the printer took the test receipt but it was not seen right', fix: 'check printer.profile (paper width, qr: native or raster) against the printer model' };
  }
  return { step: 'printer', outcome: 'pass', message: `test receipt printed (QR: ${printed.url})` };
}

const SYMBOL: Record<StepOutcome, string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' };

export function formatStep(result: StepResult): string {
  const line = `${SYMBOL[result.outcome]}  ${result.step}: ${result.message}`;
  return result.fix ? `${line}\n      fix: ${result.fix}` : line;
}
