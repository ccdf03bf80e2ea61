import { describe, expect, it } from 'vitest';
import { crc16, crc16Hex } from '../../protocol/crc16.js';
import { decodeFrame, encodeFrame, MAX_FRAME_LENGTH } from '../../protocol/frame.js';
import { lineSplitter } from '../../protocol/line-splitter.js';

function splitInto(): { lines: string[]; tooLong: number[]; push: (chunk: string) => void } {
  const lines: string[] = [];
  const tooLong: number[] = [];
  return { lines, tooLong, push: lineSplitter({ line: (l) => lines.push(l), tooLong: (n) => tooLong.push(n) }) };
}

describe('CRC-16/CCITT-FALSE', () => {
  it('matches the standard check value', () => {
    expect(crc16('123456789')).toBe(0x29b1);
    expect(crc16Hex('')).toBe('FFFF');
  });
});

describe('serial frame codec', () => {
  it('round-trips a message, escaping non-ASCII text so the line stays 7-bit', () => {
    const frame = encodeFrame({ type: 'hb', seq: 7, note: '非常满意' });
    expect(frame.endsWith('\n')).toBe(true);
    expect(/^[\x20-\x7e]*\n$/.test(frame)).toBe(true);
    expect(frame).toMatch(/\*[0-9A-F]{4}\n$/);
    expect(decodeFrame(frame.slice(0, -1))).toMatchObject({ ok: true, value: { type: 'hb', seq: 7, note: '非常满意' } });
  });

  it('tolerates a CR before the newline and lowercase hex', () => {
    const line = encodeFrame({ type: 'hb', seq: 1 }).slice(0, -1);
    expect(decodeFrame(`${line}\r`).ok).toBe(true);
    expect(decodeFrame(line.toLowerCase().replace('"type":"hb"', '"type":"hb"')).ok).toBe(true);
  });

  it('rejects a bad checksum, naming both values', () => {
    const line = encodeFrame({ type: 'hb', seq: 1 }).slice(0, -1);
    const corrupted = line.replace('"seq":1', '"seq":2');
    const result = decodeFrame(corrupted);
    expect(result).toMatchObject({ ok: false, error: 'checksum' });
    expect(!result.ok && result.detail).toMatch(/checksum [0-9A-F]{4} does not match [0-9A-F]{4}/);
  });

  it('rejects lines with no checksum, noise, over-long lines and bad JSON', () => {
    expect(decodeFrame('{"type":"hb","seq":1}')).toMatchObject({ ok: false, error: 'no_checksum' });
    expect(decodeFrame('\u0000\u00ff garbage')).toMatchObject({ ok: false, error: 'not_ascii' });
    expect(decodeFrame('x'.repeat(MAX_FRAME_LENGTH))).toMatchObject({ ok: false, error: 'too_long' });
    const notJson = '{"type":';
    expect(decodeFrame(`${notJson}*${crc16Hex(notJson)}`)).toMatchObject({ ok: false, error: 'not_json' });
  });

  it('refuses to encode a frame over the length limit', () => {
    expect(() => encodeFrame({ type: 'hb', seq: 1, pad: 'x'.repeat(MAX_FRAME_LENGTH) })).toThrow(/exceeds/);
  });
});

describe('line splitter', () => {
  it('joins lines across chunks and cuts several lines out of one chunk, skipping empty ones', () => {
    const s = splitInto();
    for (const chunk of ['ab', 'c\nde', 'f\n\ngh\ni', 'j\n']) s.push(chunk);
    expect(s.lines).toEqual(['abc', 'def', 'gh', 'ij']);
    expect(s.tooLong).toEqual([]);
  });

  it('drops a line longer than a frame, counting its length, and resynchronises at the newline', () => {
    const s = splitInto();
    const frame = encodeFrame({ type: 'hb', seq: 1 });
    s.push('x'.repeat(300));
    s.push('y'.repeat(300));
    s.push(`z\n${frame}`);
    expect(s.tooLong).toEqual([601]);
    expect(s.lines).toEqual([frame.slice(0, -1)]);
  });

  it('takes the longest frame with a CR after it', () => {
    const s = splitInto();
    s.push(`${'x'.repeat(MAX_FRAME_LENGTH - 1)}\r\n`);
    expect(s.lines).toHaveLength(1);
  });
});
