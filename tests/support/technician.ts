import { verifyEvaluationUrl } from '../../protocol/receipt-token.js';
import type { SelftestIO } from '../../bridge/selftest/selftest.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import type { PrinterCore } from '../../simulator/virtual-printer.js';
import type { VirtualTerminal } from '../../simulator/virtual-terminal.js';
import { waitUntil } from '../../simulator/wait.js';

export interface Technician extends Required<SelftestIO> {
  /** Every instruction and question, in order. */
  readonly heard: string[];
  /** Presses still under way (a press is started from say(), which cannot wait). */
  settle(): Promise<void>;
}

/**
 * A technician at a simulated window who answers only what is true: presses the button asked
 * for (or, with `wrongButtons`, another), and says an LED or the buzzer is on only when the
 * terminal's pins show it, a receipt came out only when the virtual printer holds one whose QR
 * verifies against the terminal's key.
 */
export function technicianAt(window: SimWindow, options: { wrongButtons?: Record<number, number> } = {}): Technician {
  return technician(
    {
      terminal: window.terminal,
      printer: window.printer,
      publicKey: () => {
        const status = window.bridge.status().printer;
        return status.configured ? status.publicKey : undefined;
      },
    },
    options,
  );
}

/**
 * What the technician does to a terminal and sees of it: a virtual terminal, or the hands and eyes
 * on any other (press resolves once the terminal has the press and the button is let go).
 */
export type TerminalAtHand = Pick<VirtualTerminal, 'press' | 'leds' | 'buzzing'>;

/** The same technician at any terminal (and printer), e.g. a virtual one on a real pty line. */
export function technician(
  at: { terminal: TerminalAtHand; printer?: PrinterCore | undefined; publicKey?: () => string | undefined },
  { wrongButtons = {} as Record<number, number> } = {},
): Technician {
  const { terminal, printer } = at;
  const heard: string[] = [];
  // One press after another, as one person makes them.
  let presses = Promise.resolve();
  const seen = (what: () => boolean): Promise<boolean> =>
    waitUntil(what, 'the terminal to show it', { timeoutMs: 2000 }).then(
      () => true,
      () => false,
    );
  return {
    heard,
    say(text) {
      heard.push(text);
      const asked = /^Press button (\d)/.exec(text);
      if (asked) {
        const button = Number(asked[1]) - 1;
        presses = presses.then(() => terminal.press(wrongButtons[button] ?? button));
      }
    },
    async confirm(question) {
      heard.push(question);
      const led = /LED over button (\d)/.exec(question);
      if (led) {
        const index = Number(led[1]) - 1;
        return seen(() => terminal.leds().every((on, i) => on === (i === index)));
      }
      if (/buzzer/.test(question)) return seen(() => terminal.buzzing());
      if (/receipt/.test(question)) {
        const publicKey = at.publicKey?.();
        if (!printer || !publicKey) return false;
        const receipt = await printer.waitForReceipt(undefined, { timeoutMs: 2000 }).catch(() => undefined);
        const qr = receipt?.qrCodes()[0];
        return qr !== undefined && verifyEvaluationUrl(qr.payload, publicKey).ok && receipt!.text().includes('SELFTEST');
      }
      throw new Error(`the technician does not understand: ${question}`);
    },
    settle: () => presses,
  };
}
