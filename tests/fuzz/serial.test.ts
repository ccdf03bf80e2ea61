import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc16, hex4 } from '../../protocol/crc16.js';
import { decodeFrame, encodeFrame, frameFingerprint, MAX_FRAME_LENGTH, type FrameError } from '../../protocol/frame.js';
import { lineSplitter } from '../../protocol/line-splitter.js';
import { chunked } from '../support/chunks.js';
import { bridgeMessageSchema, terminalMessageSchema } from '../../protocol/serial-messages.js';

/*
 * The serial line's framing under random input: the codec and the line reader never throw, refuse
 * with a reason and a detail, and never take a changed frame for a good one. Seeded and bounded:
 * the same cases on every run, a few seconds in all.
 */
const SEED = 20261129;
const RUNS = { seed: SEED, numRuns: 1000 };
const FRAME_ERRORS: readonly FrameError[] = ['too_long', 'not_ascii', 'no_checksum', 'checksum', 'not_json'];

/** Text as it may come off a wire: latin1 bytes, any Unicode (a wrong decoder), or near-frames. */
const lineText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 700 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.uint8Array({ maxLength: 700 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  // Well-formed but (almost always) the wrong checksum: a CRC collision is the only way through.
  fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.integer({ min: 0, max: 0xffff })).map(([v, crc]) => `${JSON.stringify(v)}*${hex4(crc)}`),
  fc.nat({ max: 3000 }).map((n) => '{'.repeat(n)),
);

/** A valid message of either direction (its text may need escaping: unicode in ids). */
const message = fc.oneof(
  fc.record({ type: fc.constant('hb'), seq: fc.nat({ max: 2 ** 31 }) }),
  fc.record({
    type: fc.constant('stray'),
    seq: fc.nat({ max: 2 ** 31 }),
    grade: fc.constantFrom('very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied'),
    ref: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  }),
  fc.record({ type: fc.constant('cancel'), seq: fc.nat({ max: 2 ** 31 }), inv: fc.string({ minLength: 1, maxLength: 64 }) }),
);

describe('frame codec under random input', () => {
  it('never throws on any line, and refuses with a known reason and a detail', () => {
    fc.assert(
      fc.property(lineText, (line) => {
        const result = decodeFrame(line);
        if (!result.ok) {
          expect(FRAME_ERRORS).toContain(result.error);
          expect(result.detail.length).toBeGreaterThan(0);
        }
      }),
      RUNS,
    );
  });

  it('round-trips every encodable message as 7-bit ASCII, whatever its text', () => {
    fc.assert(
      fc.property(message, (m) => {
        const frame = encodeFrame(m);
        expect(frame.length).toBeLessThanOrEqual(MAX_FRAME_LENGTH);
        for (let i = 0; i < frame.length - 1; i++) expect(frame.charCodeAt(i)).toBeLessThan(0x7f);
        const decoded = decodeFrame(frame.slice(0, -1));
        expect(decoded).toMatchObject({ ok: true, value: m });
        const schema = m.type === 'cancel' ? bridgeMessageSchema : terminalMessageSchema;
        expect(schema.safeParse(decoded.ok && decoded.value).success).toBe(true);
      }),
      RUNS,
    );
  });

  it('never takes a frame with one character changed for a good one (CRC-16 catches every burst up to 16 bits)', () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 0x20, max: 0x7e }), (m, at, code) => {
        const line = encodeFrame(m).slice(0, -1);
        const i = at % line.length;
        fc.pre(line.charCodeAt(i) !== code);
        const changed = line.slice(0, i) + String.fromCharCode(code) + line.slice(i + 1);
        const result = decodeFrame(changed);
        // Changing a hex digit to its other case is no change to the checksum: the only way through.
        if (result.ok) expect(changed.toUpperCase()).toBe(line.toUpperCase());
      }),
      RUNS,
    );
  });

  it("frameFingerprint of an encoded frame (newline included) is the fingerprint decodeFrame gives its line, with or without the CR", () => {
    fc.assert(
      fc.property(message, fc.boolean(), (m, cr) => {
        const frame = encodeFrame(m);
        const decoded = decodeFrame(`${frame.slice(0, -1)}${cr ? '\r' : ''}`);
        expect(decoded.ok).toBe(true);
        expect(frameFingerprint(frame)).toBe(decoded.ok && decoded.fingerprint);
        expect(frameFingerprint(frame)).toBeLessThan(2 ** 25);
      }),
      RUNS,
    );
  });

  it('tells apart two frames with the same CRC by their fingerprint when their lengths differ', () => {
    // A CRC collision found by search: two JSON texts of different length, one CRC.
    const byCrc = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let n = 0; !pair; n++) {
      const json = JSON.stringify({ type: 'hb', seq: n, pad: 'x'.repeat(n % 3) });
      const crc = crc16(json);
      const other = byCrc.get(crc);
      if (other !== undefined && other.length !== json.length) pair = [other, json];
      else byCrc.set(crc, json);
    }
    const [a, b] = pair.map((json) => decodeFrame(`${json}*${hex4(crc16(json))}`));
    expect(a?.ok && b?.ok && a.fingerprint !== b.fingerprint).toBe(true);
  });
});

describe('line splitter under random input', () => {
  it('yields exactly the lines a plain split would, however the stream is cut, with the long ones counted instead', () => {
    const line = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/\n/g, '')),
      fc.nat({ max: 1500 }).map((n) => 'x'.repeat(n)),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), fc.boolean(), (lines, cuts, unfinished) => {
        const text = lines.join('\n') + (unfinished ? '' : '\n');
        const got: string[] = [];
        const tooLong: number[] = [];
        const push = lineSplitter({ line: (l) => got.push(l), tooLong: (n) => tooLong.push(n) });
        for (const chunk of chunked(text, cuts)) push(chunk);
        const complete = unfinished ? lines.slice(0, -1) : lines;
        expect(got).toEqual(complete.filter((l) => l.length > 0 && l.length <= MAX_FRAME_LENGTH));
        expect(tooLong).toEqual(complete.filter((l) => l.length > MAX_FRAME_LENGTH).map((l) => l.length));
      }),
      RUNS,
    );
  });
});
