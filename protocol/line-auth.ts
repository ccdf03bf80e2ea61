import { hmacSha256 } from './line-auth-sha256.js';

/*
 * The serial line's authentication (docs/protocol.md, "Pairing and tags"). The bridge and its
 * terminal share a pairing key (32 random bytes, made by the bridge, given to the terminal in a
 * `pair` frame). Every reliable frame the terminal sends ends in a tag, `"mac":"<16 hex>"`, the
 * last member of its JSON: HMAC-SHA256 under the key over the session and the frame's JSON without
 * that member, cut to 64 bits. The session is both sides' boot ids from their hellos, so a frame
 * recorded in one session is refused in any other.
 */

/** Hex digits of a tag: 64 bits. */
export const TAG_HEX_LENGTH = 16;
/** Hex digits of a pairing key: 32 bytes. */
export const PAIRING_KEY_HEX_LENGTH = 64;

const TAG_MARK = ',"mac":"';
const HEX = '0123456789abcdef';

/** Whether `text` is `length` lower-case hex digits (plain loop: Espruino's regexes lack {n}). */
export function isLowerHex(text: string, length: number): boolean {
  if (text.length !== length) return false;
  for (let i = 0; i < length; i++) if (HEX.indexOf(text.charAt(i)) < 0) return false;
  return true;
}

function bytesOfHex(hex: string): string {
  let bytes = '';
  for (let i = 0; i < hex.length; i += 2) bytes += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return bytes;
}

function hexOfBytes(bytes: string): string {
  let hex = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes.charCodeAt(i);
    hex += HEX.charAt(byte >> 4) + HEX.charAt(byte & 15);
  }
  return hex;
}

/** Both boot ids, lower-cased (hellos may write hex in either case): the terminal's, then the bridge's. */
export function lineSession(terminalBoot: string, bridgeBoot: string): string {
  return terminalBoot.toLowerCase() + '.' + bridgeBoot.toLowerCase();
}

/** Computes tags under one pairing key: the tag (hex) of a frame's untagged JSON in a session. */
export type LineTagger = (session: string, body: string) => string;

export function lineTagger(keyHex: string): LineTagger {
  if (!isLowerHex(keyHex, PAIRING_KEY_HEX_LENGTH)) throw new RangeError(`a pairing key is ${PAIRING_KEY_HEX_LENGTH} lower-case hex digits`);
  const mac = hmacSha256(bytesOfHex(keyHex));
  return (session, body) => hexOfBytes(mac(session + '\n' + body).slice(0, TAG_HEX_LENGTH / 2));
}

/** The frame's JSON with its tag for `session` appended as the last member. */
export function sealFrameJson(tagger: LineTagger, session: string, json: string): string {
  return json.slice(0, -1) + TAG_MARK + tagger(session, json) + '"}';
}

/**
 * Whether the frame's JSON ends in a tag that holds for `session` and the rest of the JSON. (Apart
 * from sealFrameJson so that the terminal, which only seals, does not carry it.)
 */
export function verifyFrameJson(tagger: LineTagger, session: string, json: string): boolean {
  const at = json.length - TAG_MARK.length - TAG_HEX_LENGTH - 2;
  if (at < 1 || json.slice(at, at + TAG_MARK.length) !== TAG_MARK || json.slice(-2) !== '"}') return false;
  const given = json.slice(at + TAG_MARK.length, -2);
  if (!isLowerHex(given, TAG_HEX_LENGTH)) return false;
  const expected = tagger(session, json.slice(0, at) + '}');
  // Every digit compared, whatever the first difference: the time taken tells nothing.
  let difference = 0;
  for (let i = 0; i < TAG_HEX_LENGTH; i++) difference |= given.charCodeAt(i) ^ expected.charCodeAt(i);
  return difference === 0;
}
