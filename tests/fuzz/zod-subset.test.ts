import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zodSubset } from '../../firmware/espruino/build.js';
import { GRADES } from '../../protocol/grades.js';
import * as protocol from '../../protocol/serial-messages.js';

/*
 * The device checks frames with protocol/serial-messages.ts built on firmware/espruino/zod-subset.ts
 * instead of zod. Whatever reaches it, it must take exactly what the bridge's zod takes, with the
 * same output (defaults filled, unknown keys dropped), and refuse the rest naming the same fields.
 * Frames here are near-misses of every message type, each field valid or hostile (wrong type,
 * a bound's neighbours, other fields' values), plus arbitrary JSON. Seeded: the same cases each run.
 */
const RUNS = { seed: 20261130, numRuns: 3000 };

type Schemas = Pick<typeof protocol, 'bridgeMessageSchema' | 'terminalMessageSchema'>;
let dir: string;
let device: Schemas;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hcp-zod-subset-'));
  const outfile = join(dir, 'serial-messages.mjs');
  await esbuild.build({ entryPoints: [join(import.meta.dirname, '../../protocol/serial-messages.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile, plugins: [zodSubset], logLevel: 'silent' });
  device = (await import(pathToFileURL(outfile).href)) as Schemas;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hex = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: min, maxLength: max });
const lowerHex = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: min, maxLength: max });
const text = (min: number, max: number) => fc.string({ minLength: min, maxLength: max });
const int = (min: number, max: number) => fc.integer({ min, max });

/** A valid value of each field of either direction's messages. */
const GOOD: Record<string, fc.Arbitrary<unknown>> = {
  seq: int(0, 2 ** 31),
  ack: int(0, 2 ** 31),
  nak: int(0, 2 ** 31),
  fp: fc.option(int(0, 2 ** 25 - 1)),
  problem: text(0, 160),
  proto: int(1, 3),
  fw: text(1, 32),
  serial: text(1, 64),
  boot: hex(8, 32),
  peer: fc.option(hex(8, 32)),
  pending: fc.option(fc.array(text(1, 64), { maxLength: 4 })),
  inv: text(1, 64),
  grade: fc.constantFrom(...GRADES),
  latencyMs: fc.nat(),
  reason: fc.option(int(0, 4)),
  ref: text(1, 48),
  button: int(0, 4),
  heldMs: fc.nat(),
  choices: int(1, 5),
  timeoutMs: int(1000, 600_000),
  reasons: int(0, 5),
  reasonTimeoutMs: int(1000, 120_000),
  key: lowerHex(64, 64),
  active: fc.boolean(),
  leds: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
  beepMs: int(0, 2000),
  clip: int(1, 255),
};
const FIELDS = Object.keys(GOOD);
const TYPES = ['hello', 'ack', 'nak', 'hb', 'rating', 'expired', 'cancelled', 'stray', 'stuck', 'press', 'choosing', 'invite', 'cancel', 'test', 'pair', 'pause', 'say'];

/** What a hostile peer or a corrupt journal may put in a field: wrong types, bounds' neighbours, near-miss texts. */
const hostile = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, '', '0', [], {}, -0, -1, 0.5, 1.5, 2 ** 31 + 1, 2 ** 25, 2 ** 53, 2 ** 53 + 2, 1e21, -1e21, 999, 1000, 120_001, 600_001, 2001, 256, 5, 6, 161),
  fc.integer(),
  fc.double(),
  hex(0, 70),
  lowerHex(60, 66),
  text(0, 70),
  fc.string({ unit: 'grapheme', maxLength: 70 }),
  fc.array(fc.oneof(fc.boolean(), text(0, 3), fc.integer({ min: -1, max: 1 })), { maxLength: 7 }),
  fc.array(text(0, 66), { maxLength: 6 }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Each field present (mostly), valid (mostly) or hostile; `type` any message's, or not one. */
const nearMiss = fc
  .tuple(
    fc.oneof({ weight: 9, arbitrary: fc.constantFrom<unknown>(...TYPES) }, { weight: 1, arbitrary: hostile }),
    fc.tuple(...FIELDS.map((field) => fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 6, arbitrary: GOOD[field] as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: hostile }))),
    fc.dictionary(text(1, 8), hostile, { maxKeys: 2 }),
  )
  .map(([type, values, extra]) => {
    const frame: Record<string, unknown> = { ...extra, type };
    FIELDS.forEach((field, i) => {
      if (values[i] !== undefined) frame[field] = values[i];
    });
    return frame as unknown;
  });

const anyFrame = fc.oneof({ weight: 8, arbitrary: nearMiss }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }, { weight: 1, arbitrary: hostile });

function sameAsZod(schema: 'bridgeMessageSchema' | 'terminalMessageSchema', frame: unknown): boolean {
  const expected = protocol[schema].safeParse(frame);
  const actual = device[schema].safeParse(frame);
  expect({ success: actual.success, data: actual.data }).toEqual({ success: expected.success, data: expected.data });
  if (!expected.success && !actual.success) {
    // Which fields are named, not how often: zod measures a string's or array's length even after
    // its type failed, where the subset stops at the type.
    const paths = (issues: readonly { path: readonly PropertyKey[] }[]) => [...new Set(issues.map((issue) => issue.path.map(String).join('.')))].sort();
    expect(paths(actual.error.issues)).toEqual(paths(expected.error.issues));
  }
  return expected.success;
}

describe('zod-subset against zod on the serial protocol schemas', () => {
  for (const schema of ['bridgeMessageSchema', 'terminalMessageSchema'] as const) {
    it(`${schema}: takes, refuses and fills exactly as zod does, on random and hostile frames`, () => {
      let taken = 0;
      fc.assert(
        fc.property(anyFrame, (frame) => {
          // As it comes off the line (JSON), and as it is in memory.
          if (sameAsZod(schema, JSON.parse(JSON.stringify(frame ?? null)) as unknown)) taken += 1;
          sameAsZod(schema, frame);
        }),
        RUNS,
      );
      // The frames exercise taking as well as refusing.
      expect(taken).toBeGreaterThan(RUNS.numRuns / 20);
    });
  }
});
