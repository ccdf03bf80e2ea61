import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/frame.js';
import { LinkEndpoint } from '../../protocol/link.js';
import { isReliable } from '../../protocol/serial-messages.js';
import { ManualTimers } from '../support/manual-timers.js';

/*
 * What the link writes, whatever it keeps inside (a pending frame's JSON text, one resend timer for
 * all): each frame is encodeFrame({ ...message, seq }) sealed by the auth hook, and each reliable
 * frame is resent on its own schedule (resendMs, doubling up to maxResendMs) until acknowledged.
 * Random messages (any text, non-ASCII included), sends and acks spread over random times.
 */
const RUNS = { seed: 20261130, numRuns: 300 };
const RESEND_MS = 500;
const MAX_RESEND_MS = 4000;
const MARK = ',"mac":"0123456789abcdef"}';

const message = fc
  .tuple(
    fc.constantFrom('stray', 'rating', 'hello', 'cancelled', 'ack', 'nak', 'hb'),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }).filter((key) => key !== 'seq' && key !== 'type'), fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 4 }),
  )
  .map(([type, fields]) => ({ type, ...fields }));

/** At each step: send a message, acknowledge a pending one, or let time pass. */
const step = fc.oneof(
  fc.record({ send: message }),
  fc.record({ ack: fc.nat() }),
  fc.record({ wait: fc.integer({ min: 1, max: 3000 }) }),
);

describe('link frames and resends', () => {
  for (const sealed of [false, true]) {
    it(`writes encodeFrame({ ...message, seq })${sealed ? ' sealed' : ''} and resends each frame on its own schedule until acknowledged`, () => {
      fc.assert(
        fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
          const timers = new ManualTimers();
          const written: { at: number; frame: string }[] = [];
          const link = new LinkEndpoint<{ type: string; seq: number }, { type: string; seq: number }>({
            schema: undefined as never,
            timers,
            write: (frame) => void written.push({ at: timers.now(), frame }),
            onMessage: () => undefined,
            resendMs: RESEND_MS,
            maxResendMs: MAX_RESEND_MS,
            heartbeatMs: 1e9,
            ...(sealed && { auth: { seal: (json: string) => json.slice(0, -1) + MARK, check: () => null } }),
          });
          link.start();
          // The model: each reliable frame's text and its next resend time, until acknowledged.
          const expected: { at: number; frame: string }[] = [];
          const pending = new Map<number, { frame: string; due: number; interval: number }>();
          const passTime = (ms: number): void => {
            const end = timers.now() + ms;
            for (;;) {
              let next: [number, { frame: string; due: number; interval: number }] | undefined;
              for (const entry of pending) if (entry[1].due <= end && (!next || entry[1].due < next[1].due)) next = entry;
              if (!next) break;
              const entry = next[1];
              expected.push({ at: entry.due, frame: entry.frame });
              entry.interval = Math.min(entry.interval * 2, MAX_RESEND_MS);
              entry.due += entry.interval;
            }
            timers.advance(ms);
          };
          for (const s of steps) {
            if ('send' in s) {
              const seq = link.send(s.send as never);
              const reliable = isReliable(s.send);
              const frame = encodeFrame({ ...s.send, seq }, reliable && sealed ? (json) => json.slice(0, -1) + MARK : undefined);
              expected.push({ at: timers.now(), frame });
              if (reliable) pending.set(seq, { frame, due: timers.now() + RESEND_MS, interval: RESEND_MS });
            } else if ('ack' in s) {
              const seqs = [...pending.keys()];
              const seq = seqs[s.ack % Math.max(1, seqs.length)];
              if (seq === undefined) continue;
              expect(link.withdraw(seq)).toBe(true);
              pending.delete(seq);
            } else {
              passTime(s.wait);
            }
          }
          // Resends due at the same instant go in sending order in both.
          const order = (list: { at: number; frame: string }[]) => [...list].sort((a, b) => a.at - b.at);
          expect(order(written)).toEqual(order(expected));
          expect(link.pendingCount).toBe(pending.size);
        }),
        RUNS,
      );
    });
  }
});
