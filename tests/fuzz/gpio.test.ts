import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../bridge/config.js';
import { headerName, RESERVED_GPIO } from '../../firmware/adapters/gpio/header.js';
import { parseChips, parseEventLine, parseLevels, parseLineInfo, parseToolsVersion, pickChip } from '../../firmware/adapters/gpio/gpiod-argv.js';

/**
 * The Pi-GPIO boundaries, fuzzed: what the gpiod tools print (any text, and events of any
 * offset and edge), and the config's gpio board section (any value in any place). Invariants:
 * nothing throws; a reading is either a value of the right shape or a problem that quotes what
 * was printed; a config is accepted or refused with a ConfigError naming board fields; an
 * accepted one has five buttons and five LEDs on distinct, unreserved header GPIOs.
 */
const SEED = 20261130;
const RUNS = { seed: SEED, numRuns: 300 };
const text = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('5 1', '5 0', '21 2', '"5"=active', 'gpiochip0 [pinctrl-rp1] (54 lines)', '\tline  17:\t"GPIO17"\toutput consumer="gpioset"'));

describe("reading what the gpiod tools print, whatever they print", () => {
  it('an event line is an offset and a level, or a problem quoting the line', () => {
    fc.assert(
      fc.property(fc.constantFrom(1 as const, 2 as const), text, (major, line) => {
        const read = parseEventLine(major, line);
        if ('problem' in read) expect(read.problem).toMatch(/^gpiomon printed "/);
        else {
          expect(Number.isInteger(read.offset) && read.offset >= 0).toBe(true);
          expect([0, 1]).toContain(read.level);
        }
      }),
      RUNS,
    );
  });

  it('events round-trip: every offset and edge the tools print is read back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), fc.boolean(), (offset, rising) => {
        expect(parseEventLine(1, `${offset} ${rising ? 1 : 0}`)).toEqual({ offset, level: rising ? 1 : 0 });
        expect(parseEventLine(2, `${offset} ${rising ? 1 : 2}`)).toEqual({ offset, level: rising ? 1 : 0 });
      }),
      RUNS,
    );
  });

  it('levels, chips, line info and versions never throw, and stay bounded', () => {
    fc.assert(
      fc.property(fc.constantFrom(1 as const, 2 as const), text, fc.array(fc.integer({ min: 0, max: 57 }), { maxLength: 6 }), (major, said, lines) => {
        const levels = parseLevels(major, said, lines);
        if (!('problem' in levels)) expect([...levels.keys()].sort()).toEqual([...new Set(lines)].sort());
        const chips = parseChips(said);
        for (const chip of chips) expect(chip.name).toMatch(/^gpiochip\d+$/);
        const picked = pickChip(chips, 'auto');
        expect('problem' in picked || chips.includes(picked)).toBe(true);
        for (const info of parseLineInfo(major, said)) expect(Number.isInteger(info.offset)).toBe(true);
        const version = parseToolsVersion(said, true);
        expect('problem' in version || [1, 2].includes(version.major)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('the gpio board config, with anything in any place', () => {
  const base = { terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H', windowNo: '1' }, mqtt: { url: 'mqtts://b.example:8883' }, database: { path: '/var/lib/hcp/hcp.db' } };
  const sound = { io: 'gpio', chip: 'auto', pins: { buttons: [5, 6, 16, 20, 21], leds: [17, 27, 22, 23, 24], buzzer: 18 }, bias: 'pull-up', debounceMs: 10 };
  const anything = fc.oneof(fc.anything({ maxDepth: 2 }), fc.integer({ min: -5, max: 40 }), fc.array(fc.integer({ min: -2, max: 30 }), { maxLength: 7 }), fc.string({ maxLength: 40 }));
  const place = fc.constantFrom(['io'], ['chip'], ['bias'], ['debounceMs'], ['journalPath'], ['pins'], ['pins', 'buttons'], ['pins', 'leds'], ['pins', 'buzzer'], ['pins', 'buttons', 2], ['extra']);

  it('is accepted with sound pins, or refused with a ConfigError naming a board field', () => {
    fc.assert(
      fc.property(place, anything, (path, value) => {
        const board = structuredClone(sound) as Record<string, unknown>;
        let node = board;
        for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
        node[path.at(-1) as string] = value;
        try {
          const config = parseConfig({ ...base, board });
          const accepted = config.board;
          if (accepted?.io !== 'gpio') return; // an io of "firmata" with our keys is refused below; no other kind is taken
          const all = [...accepted.pins.buttons, ...accepted.pins.leds, ...(accepted.pins.buzzer === undefined ? [] : [accepted.pins.buzzer])];
          expect(accepted.pins.buttons).toHaveLength(5);
          expect(new Set(all).size).toBe(all.length);
          for (const pin of all) {
            expect(pin >= 2 && pin <= 27 && !RESERVED_GPIO.has(pin)).toBe(true);
            expect(headerName(pin)).toMatch(/^GPIO \d+ \(header pin \d+\)$/);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          for (const problem of (err as ConfigError).problems) expect(problem).toMatch(/^(board(\.|:)|and \d+ more$)/);
        }
      }),
      RUNS,
    );
  });
});
