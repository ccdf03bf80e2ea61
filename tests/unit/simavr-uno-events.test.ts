import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PIN_STATES, UNO_PIN_COUNT, buttonCommand, formatUnoEvent, parseUnoEvent, type UnoEvent } from '../../simulator/avr/uno-events.js';

/*
 * The boundary between the simulated Uno (simulator/avr/uno-uart-pty.c) and the tests: its stdout
 * lines and the commands written to its stdin.
 */

const pin = fc.integer({ min: 0, max: UNO_PIN_COUNT - 1 });
const event: fc.Arbitrary<UnoEvent> = fc.oneof(
  fc.stringMatching(/^\/[!-~]{1,40}$/).map((path) => ({ kind: 'pty' as const, path })),
  fc.constant({ kind: 'reset' as const }),
  fc.record({ kind: fc.constant('pin' as const), pin, state: fc.constantFrom(...PIN_STATES) }),
  fc.string({ minLength: 1, maxLength: 80 }).filter((m) => !m.includes('\n')).map((message) => ({ kind: 'error' as const, message })),
);

describe('the simulated Uno’s lines', () => {
  it('reads back every line it writes', () => {
    fc.assert(
      fc.property(event, (e) => {
        expect(parseUnoEvent(formatUnoEvent(e))).toEqual(e);
      }),
    );
  });

  it('reads the lines as the C program prints them', () => {
    expect(parseUnoEvent('pty /dev/pts/7')).toEqual({ kind: 'pty', path: '/dev/pts/7' });
    expect(parseUnoEvent('pin 12 high')).toEqual({ kind: 'pin', pin: 12, state: 'high' });
    expect(parseUnoEvent('error unknown command: press 99')).toEqual({ kind: 'error', message: 'unknown command: press 99' });
  });

  it('refuses anything else by name, and whatever it takes it writes back as the same event', () => {
    const near = fc.oneof(
      fc.string(),
      fc.tuple(fc.constantFrom('pty', 'reset', 'pin', 'error', 'pins', 'Pin'), fc.array(fc.oneof(fc.string(), fc.integer({ min: -5, max: 120 }).map(String), fc.constantFrom(...PIN_STATES)), { maxLength: 3 })).map(([kind, words]) => [kind, ...words].join(' ')),
    );
    fc.assert(
      fc.property(near, (line) => {
        let parsed: UnoEvent;
        try {
          parsed = parseUnoEvent(line);
        } catch (err) {
          expect((err as Error).message).toBe(`not a line of the simulated Uno: ${JSON.stringify(line)}`);
          return;
        }
        expect(parseUnoEvent(formatUnoEvent(parsed))).toEqual(parsed);
        if (parsed.kind === 'pin') expect(parsed.pin).toBeLessThan(UNO_PIN_COUNT);
      }),
    );
    for (const line of ['', 'reset now', 'pin 20 high', 'pin -1 low', 'pin 3 on', 'pin 3', 'pty relative/path', 'pty /a b', 'error']) {
      expect(() => parseUnoEvent(line), line).toThrow('not a line of the simulated Uno');
    }
  });
});

describe('the commands to the simulated Uno', () => {
  it('are one line the C program reads (press|release, a pin of the Uno)', () => {
    fc.assert(
      fc.property(fc.constantFrom('press' as const, 'release' as const), pin, (action, n) => {
        expect(buttonCommand(action, n)).toMatch(/^(press|release) \d{1,2}\n$/);
        expect(buttonCommand(action, n)).toBe(`${action} ${n}\n`);
      }),
    );
  });

  it('refuses a pin the Uno does not have', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: UNO_PIN_COUNT }), fc.double({ noInteger: true })), (n) => {
        expect(() => buttonCommand('press', n)).toThrow();
      }),
    );
  });
});
