import { crc16, crc16Hex, hex4 } from './crc16.js';

/**
 * Serial line framing, v1: `JSON*CRC\n`, where CRC is four hex digits of CRC-16/CCITT-FALSE over
 * the JSON text. Frames are 7-bit ASCII: the encoder escapes every non-ASCII character as \uXXXX,
 * so "the JSON bytes" and the JSON characters are the same thing on both sides.
 */
export const MAX_FRAME_LENGTH = 512;

export type FrameError = 'too_long' | 'not_ascii' | 'no_checksum' | 'checksum' | 'not_json';

/**
 * `fingerprint` tells frames apart without keeping them: the JSON text's length and its CRC in one
 * integer (below 2^25), so a receiver can remember which frame it handled under a sequence number
 * for a few bytes (the terminal MCU has little RAM).
 */
export type FrameDecodeResult = { ok: true; value: unknown; fingerprint: number; json: string } | { ok: false; error: FrameError; detail: string };

/** A frame's fingerprint, from its JSON text's length and CRC. */
function fingerprintOf(jsonLength: number, crc: number): number {
  return jsonLength * 0x10000 + crc;
}

/** The fingerprint of a frame we encoded (`encodeFrame`'s output, newline included). */
export function frameFingerprint(frame: string): number {
  const star = frame.lastIndexOf('*');
  return fingerprintOf(star, parseInt(frame.slice(star + 1, star + 5), 16));
}

/** The refusal of a line longer than a frame may be, wherever it is measured. */
export function tooLongDetail(length: number): string {
  return `line of ${length} characters exceeds ${MAX_FRAME_LENGTH - 1}`;
}

/*
 * Plain loops rather than regular expressions here: this file runs on the terminal too, and
 * Espruino's regex engine has no {n} quantifiers and no \u or \x ranges (espruino/Espruino#1257).
 */

/** The JSON text with every character above U+007F written as a \uXXXX escape. */
export function asciiJson(message: unknown): string {
  const json = JSON.stringify(message);
  let out = '';
  for (let i = 0; i < json.length; i++) {
    const code = json.charCodeAt(i);
    out += code < 0x80 ? json.charAt(i) : '\\u' + ('000' + code.toString(16)).slice(-4);
  }
  return out;
}

function isPrintableAscii(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}

const HEX_DIGITS = '0123456789abcdefABCDEF';

function isHex4(text: string): boolean {
  if (text.length !== 4) return false;
  for (let i = 0; i < 4; i++) if (HEX_DIGITS.indexOf(text.charAt(i)) < 0) return false;
  return true;
}

/** `seal` may rewrite the JSON text before the checksum, e.g. append a tag (protocol/line-auth.ts). */
export function encodeFrame(message: unknown, seal?: (json: string) => string): string {
  return encodeJsonFrame(asciiJson(message), seal);
}

/** The frame of a message already written as ASCII JSON (asciiJson), e.g. kept so by a sender. */
export function encodeJsonFrame(ascii: string, seal?: (json: string) => string): string {
  const json = seal ? seal(ascii) : ascii;
  const frame = `${json}*${crc16Hex(json)}\n`;
  if (frame.length > MAX_FRAME_LENGTH) {
    throw new RangeError(`frame of ${frame.length} bytes exceeds the ${MAX_FRAME_LENGTH}-byte limit`);
  }
  return frame;
}

/** Decodes one line (without its trailing newline; a trailing \r is tolerated). */
export function decodeFrame(rawLine: string): FrameDecodeResult {
  const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
  if (line.length > MAX_FRAME_LENGTH - 1) {
    return { ok: false, error: 'too_long', detail: tooLongDetail(line.length) };
  }
  if (!isPrintableAscii(line)) {
    return { ok: false, error: 'not_ascii', detail: 'line holds control or non-ASCII characters' };
  }
  const star = line.lastIndexOf('*');
  if (star < 0 || !isHex4(line.slice(star + 1))) {
    return { ok: false, error: 'no_checksum', detail: 'line does not end in *XXXX' };
  }
  const json = line.slice(0, star);
  const crc = crc16(json);
  const expected = hex4(crc);
  const given = line.slice(star + 1).toUpperCase();
  if (given !== expected) {
    return { ok: false, error: 'checksum', detail: `checksum ${given} does not match ${expected}` };
  }
  try {
    return { ok: true, value: JSON.parse(json) as unknown, fingerprint: fingerprintOf(json.length, crc), json };
  } catch (err) {
    return { ok: false, error: 'not_json', detail: (err as Error).message };
  }
}
