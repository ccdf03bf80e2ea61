import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/frame.js';
import { LinkEndpoint } from '../../protocol/link.js';
import { bridgeMessageSchema, terminalMessageSchema, type BridgeMessage, type TerminalMessage } from '../../protocol/serial-messages.js';
import { ManualTimers } from '../support/manual-timers.js';

/** The bridge's end of the link, fed frames by hand; what it handled and what it wrote are kept. */
function bridgeEnd() {
  const timers = new ManualTimers();
  const handled: TerminalMessage[] = [];
  const written: BridgeMessage[] = [];
  const link = new LinkEndpoint<TerminalMessage, BridgeMessage>({
    schema: terminalMessageSchema,
    timers,
    write: (frame) => written.push(bridgeMessageSchema.parse(JSON.parse(frame.slice(0, frame.lastIndexOf('*'))))),
    onMessage: (message) => void handled.push(message),
  });
  link.start();
  const feed = async (message: Record<string, unknown>): Promise<void> => {
    link.receiveData(encodeFrame(message));
    await Promise.resolve();
    await Promise.resolve();
  };
  return { link, timers, handled, written, feed };
}

const hello = (boot: string, seq = 1) => ({ type: 'hello', seq, proto: 1, fw: '0.1.0', serial: 'T-1', boot });
const rating = (inv: string, seq: number) => ({ type: 'rating', seq, inv, grade: 'satisfied', latencyMs: 900, reason: null });

describe('link dedupe (regressions from the fuzz campaign)', () => {
  it('handles a replayed report after a reset whose hello was garbled: same seq, another frame', async () => {
    const b = bridgeEnd();
    await b.feed(hello('aaaa0001'));
    await b.feed({ type: 'stray', seq: 2, grade: 'satisfied', ref: 'aaaa0001-1' });
    // The terminal resets; its hello is lost to noise; its journal replays a rating as seq 2.
    await b.feed(rating('inv-1', 2));
    expect(b.handled.map((m) => m.type)).toEqual(['hello', 'stray', 'rating']);
  });

  it('does not let a frame claiming the next seq swallow the real one', async () => {
    const b = bridgeEnd();
    await b.feed(hello('aaaa0001'));
    await b.feed({ type: 'stray', seq: 2, grade: 'dissatisfied', ref: 'forged' });
    await b.feed(rating('inv-1', 2));
    expect(b.handled.filter((m) => m.type === 'rating')).toHaveLength(1);
  });

  it('still drops a resend of the very same frame, acknowledging it again', async () => {
    const b = bridgeEnd();
    await b.feed(hello('aaaa0001'));
    await b.feed(rating('inv-1', 2));
    await b.feed(rating('inv-1', 2));
    expect(b.handled.filter((m) => m.type === 'rating')).toHaveLength(1);
    expect(b.link.counters.duplicates).toBe(1);
    expect(b.written.filter((m) => m.type === 'ack' && m.ack === 2)).toHaveLength(2);
  });
});
