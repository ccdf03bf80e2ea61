import type { Pairing } from '../../bridge/terminal/pairing.js';
import { encodeFrame } from '../../protocol/frame.js';
import { lineSession, lineTagger, sealFrameJson } from '../../protocol/line-auth.js';
import { isReliable } from '../../protocol/serial-messages.js';

/** A pairing key for tests (never one a bridge made). */
export const TEST_PAIRING_KEY = 'a1'.repeat(32);

/** The bridge's pairing held in memory: `serial` pinned already, or null for a bridge not yet paired. */
export function memoryPairing(serial: string | null, key = TEST_PAIRING_KEY): Pairing & { pins: string[] } {
  const pins: string[] = [];
  let pinned = serial;
  return {
    key,
    pins,
    get serial() {
      return pinned;
    },
    pin(next) {
      pinned = next;
      pins.push(next);
    },
  };
}

/**
 * A terminal's frame as a paired terminal writes it: reliable frames tagged for the session of
 * `terminalBoot` and `bridgeBoot` (a hello also names the bridge boot it answers); `key` null
 * writes it untagged, as a forger without the key would.
 */
export function terminalFrame(message: Record<string, unknown> & { type: string }, session: { key: string | null; terminalBoot: string; bridgeBoot: string }): string {
  const { key, terminalBoot, bridgeBoot } = session;
  const body = message.type === 'hello' ? { peer: bridgeBoot, ...message } : message;
  if (key === null || !isReliable(message)) return encodeFrame(body);
  const tagger = lineTagger(key);
  return encodeFrame(body, (json) => sealFrameJson(tagger, lineSession(terminalBoot, bridgeBoot), json));
}
