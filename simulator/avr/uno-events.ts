import { z } from 'zod';

/*
 * The lines the simulated Uno (simulator/avr/uno-uart-pty.c) writes on stdout, one event a line,
 * and the commands it reads on stdin. Anything else on stdout is a bug of the C program: the
 * parser says so rather than guessing.
 */

/** The Uno's digital pins: D0-D13, then A0-A5 as 14-19. */
export const UNO_PIN_COUNT = 20;

/** How the sketch has set a pin: an output driven low or high, or an input with or without its pull-up. */
export const PIN_STATES = ['low', 'high', 'pullup', 'input'] as const;
export type PinState = (typeof PIN_STATES)[number];

const pinSchema = z.coerce.number().int().min(0).max(UNO_PIN_COUNT - 1);

export type UnoEvent =
  | { kind: 'pty'; path: string }
  | { kind: 'reset' }
  | { kind: 'pin'; pin: number; state: PinState }
  | { kind: 'error'; message: string };

const eventSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('pty'), path: z.string().regex(/^\/\S+$/) }),
  z.object({ kind: z.literal('reset') }),
  z.object({ kind: z.literal('pin'), pin: pinSchema, state: z.enum(PIN_STATES) }),
  z.object({ kind: z.literal('error'), message: z.string().min(1) }),
]);

/** The fields after the event's first word, as the schema reads them; undefined if they cannot be. */
function fieldsOf(kind: string, words: readonly string[]): Record<string, unknown> | undefined {
  switch (kind) {
    case 'pty':
      return words.length === 1 ? { path: words[0] } : undefined;
    case 'reset':
      return words.length === 0 ? {} : undefined;
    case 'pin':
      return words.length === 2 && /^\d{1,2}$/.test(words[0] ?? '') ? { pin: words[0], state: words[1] } : undefined;
    case 'error':
      return { message: words.join(' ') };
    default:
      return undefined;
  }
}

/** One stdout line (without its newline) as an event; throws on a line the program never writes. */
export function parseUnoEvent(line: string): UnoEvent {
  const [kind = '', ...words] = line.split(' ');
  const fields = fieldsOf(kind, words);
  const parsed = fields && eventSchema.safeParse({ kind, ...fields });
  if (!parsed?.success) throw new Error(`not a line of the simulated Uno: ${JSON.stringify(line)}`);
  return parsed.data;
}

/** The line the C program writes for an event (the inverse of parseUnoEvent, for tests). */
export function formatUnoEvent(event: UnoEvent): string {
  switch (event.kind) {
    case 'pty':
      return `pty ${event.path}`;
    case 'reset':
      return 'reset';
    case 'pin':
      return `pin ${event.pin} ${event.state}`;
    case 'error':
      return `error ${event.message}`;
  }
}

/** The command line (newline included) that presses or releases the button on `pin`. */
export function buttonCommand(action: 'press' | 'release', pin: number): string {
  pinSchema.parse(pin);
  return `${action} ${pin}\n`;
}
