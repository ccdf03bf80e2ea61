import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../simulator/wait.js';
import { terminalLinkRig } from '../support/terminal-link-rig.js';

/*
 * The bridge's TerminalLink on a virtual line, with the test writing the terminal's bytes by hand:
 * what a terminal with odd firmware, or noise, puts on the wire.
 */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const rig = (heartbeatMs?: number) => terminalLinkRig(cleanups, heartbeatMs);

const HELLO = { type: 'hello', proto: 1, fw: '0.1.0', serial: 'T-UPPER' };

describe('the bridge end of the serial line (regressions from the fuzz campaign)', () => {
  it('takes a boot id in upper-case hex, as the docs allow, and keeps it lower-cased', async () => {
    const r = await rig();
    const seq = r.send({ ...HELLO, boot: 'ABCDEF0123456789' });
    await waitUntil(() => r.heard.some((m) => m.type === 'ack' && m.ack === seq), 'the hello acknowledged');
    expect(r.link.status()).toMatchObject({ alive: true, terminal: { boot: 'abcdef0123456789' } });
    r.send({ type: 'rating', inv: 'inv-1', grade: 'satisfied', latencyMs: 1200, reason: null });
    await waitUntil(() => r.reports.length === 1, 'the rating handed on');
  });

  it('a line with frames but no accepted hello is not a usable terminal (alive false), and a refused hello gets a nak saying why', async () => {
    const r = await rig();
    r.send({ type: 'hb' });
    const seq = r.send({ ...HELLO, boot: 'not-hex!' });
    await waitUntil(() => r.heard.find((m) => m.type === 'nak' && m.nak === seq), 'the nak');
    const nak = r.heard.find((m) => m.type === 'nak');
    expect(nak).toMatchObject({ problem: expect.stringMatching(/boot: boot id must be 8-32 hex digits/) });
    expect(r.link.status()).toMatchObject({ alive: false, terminal: null });
    expect(r.link.status().counters.rejected.schema).toBe(1);
    // Its reports wait (unacknowledged) until it says a hello the bridge takes.
    r.send({ type: 'rating', inv: 'inv-1', grade: 'satisfied', latencyMs: 1200, reason: null });
    await waitUntil(() => r.link.status().reportsBeforeHello === 1, 'the report held back');
    expect(r.reports).toHaveLength(0);
  });

  it('a terminal heard from after its hello was refused is asked to say hello again, and becomes usable when it does', async () => {
    const r = await rig(100); // the liveness window (three heartbeats) is 300 ms
    r.send({ ...HELLO, boot: 'not-hex!' });
    await waitUntil(() => r.heard.some((m) => m.type === 'nak'), 'the nak');
    // The terminal keeps talking (heartbeats); past the liveness window the bridge greets it again.
    await waitUntil(() => {
      r.send({ type: 'hb' });
      return r.heard.filter((m) => m.type === 'hello').length >= 2;
    }, 'a second bridge hello');
    r.send({ ...HELLO, boot: 'abcdef01' });
    await waitUntil(() => r.link.status().alive, 'the terminal usable');
  });

  it('a runaway line (no newline for 256 KB) is dropped as too_long once, and the next frame is read', async () => {
    const r = await rig();
    const junk = Buffer.alloc(1024, 0x41);
    for (let i = 0; i < 256; i++) r.line.injectToBridge(junk);
    r.line.injectToBridge('\n');
    r.send({ ...HELLO, boot: 'abcdef01' });
    await waitUntil(() => r.link.status().alive, 'the hello after the junk');
    expect(r.link.status().counters.rejected.too_long).toBe(1);
  });
});
