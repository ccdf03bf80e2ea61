import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { consoleLine, evalResult, isEspruinoError, splitConsole } from '../../firmware/espruino/interpreter.js';
import { chunked } from '../support/chunks.js';
import { pinLevels, pinMarker } from '../support/espruino-interpreter.js';

/*
 * The runner reads Espruino's console (firmware/espruino/interpreter.ts): what it prints, with the
 * prompt and the terminal control sequences the REPL puts around output that comes while the
 * prompt is shown, in whatever chunks the pipe delivers.
 */

/** Printable latin1 text, as Espruino's 8-bit strings print it: no control characters. */
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 80 });
/** What a line the code printed looks like: not starting with the prompt's '>'. */
const printed = printable.filter((text) => !text.startsWith('>'));

/** How the REPL wraps a printed line: as is, after the prompt, or with the prompt taken back (CR, erase to end of screen). */
const wrapped = fc.tuple(printed, fc.constantFrom('', '>', '>\r\x1b[J', '\r\x1b[J', '>>'), fc.boolean()).map(([text, before, crlf]) => ({ text, raw: `${before}${text}${crlf ? '\r' : ''}` }));

describe("the Espruino runner's console parsing", () => {
  it('gives back each printed line, whatever prompt and control sequences the REPL wrapped it in', () => {
    fc.assert(
      fc.property(wrapped, ({ text, raw }) => {
        expect(consoleLine(raw)).toBe(text);
      }),
    );
  });

  it('splits a stream into the same lines however the pipe chunks it, holding back the unfinished rest', () => {
    fc.assert(
      fc.property(fc.array(wrapped, { maxLength: 12 }), printed, fc.array(fc.nat(), { maxLength: 10 }), (lines, unfinished, cuts) => {
        const stream = lines.map((l) => `${l.raw}\n`).join('') + unfinished;
        const whole = splitConsole(stream);
        let rest = '';
        const seen: string[] = [];
        for (const chunk of chunked(stream, cuts)) {
          const split = splitConsole(rest + chunk);
          seen.push(...split.lines);
          rest = split.rest;
        }
        expect(seen).toEqual(lines.map((l) => l.text));
        expect(whole.lines).toEqual(seen);
        expect(rest).toBe(unfinished);
      }),
    );
  });

  it("reads an eval's result for its own id only, and its error", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.jsonValue(), printable, (id, other, value, message) => {
        const json = JSON.stringify(value);
        expect(evalResult(`@r${id} ${json}`, id)).toEqual({ ok: true, json });
        expect(evalResult(`@e${id} ${message}`, id)).toEqual({ ok: false, error: message });
        if (other !== id) expect(evalResult(`@r${other} ${json}`, id)).toBeUndefined();
      }),
    );
  });

  it('tells the board port’s pin changes apart from everything else, the last one winning', () => {
    const pin = fc.stringMatching(/^[A-Z][0-9]{1,2}$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(pin, fc.boolean()), { maxLength: 20 }), fc.array(printed, { maxLength: 5 }), (changes, noise) => {
        const lines = [...noise.filter((l) => !l.startsWith('@pin ')), ...changes.map(([p, on]) => `@pin ${p} ${on ? 1 : 0}`)];
        for (const [p, on] of changes) expect(pinMarker(`@pin ${p} ${on ? 1 : 0}`)).toEqual({ pin: p, on });
        const expected: Record<string, boolean> = {};
        for (const [p, on] of changes) expected[p] = on;
        expect(pinLevels(lines)).toEqual(expected);
      }),
    );
  });

  it("flags the lines where Espruino reports a failure, and not the code's own output", () => {
    for (const line of ['Uncaught Error: Invalid pin', 'New interpreter error: LOW_MEMORY,MEMORY', 'Execution Interrupted', 'ERROR: No path defined for device', 'OUT OF MEMORY    at save (:1:1)', 'ASSERT(jsvHasStringExt(it->var)) FAILED AT src/jsvariterator.c:466']) {
      expect(isEspruinoError(line)).toBe(true);
    }
    fc.assert(
      fc.property(printed, (text) => {
        expect(isEspruinoError(`@${text}`)).toBe(text.includes('LOW_MEMORY'));
      }),
    );
  });
});
