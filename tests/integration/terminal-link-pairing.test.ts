import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../simulator/wait.js';
import { memoryPairing, terminalFrame, TEST_PAIRING_KEY } from '../support/paired-line.js';
import { RIG_BRIDGE_BOOT, terminalLinkRig } from '../support/terminal-link-rig.js';

/*
 * The bridge's side of pairing (bridge/terminal/terminal-link.ts) on a virtual line, the test
 * writing the terminal's frames by hand.
 */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const HELLO = { type: 'hello', proto: 1, fw: '0.1.0', serial: 'T-NEW', boot: 'aaaa5555' };

describe('pairing, the bridge side', () => {
  it('a bridge with nobody pinned offers its key to an untagged hello, greets once the key is taken, and pins the serial of the tagged hello that follows', async () => {
    const pairing = memoryPairing(null);
    const r = await terminalLinkRig(cleanups, 60_000, pairing);
    const paired: string[] = [];
    r.link.on('paired', (serial) => paired.push(serial));
    r.device.write(terminalFrame({ ...HELLO, seq: 1 }, { key: null, terminalBoot: HELLO.boot, bridgeBoot: RIG_BRIDGE_BOOT }));
    await waitUntil(() => r.heard.some((m) => m.type === 'pair'), 'the key offered');
    const offer = r.heard.find((m) => m.type === 'pair');
    expect(offer).toMatchObject({ key: TEST_PAIRING_KEY });
    expect(r.link.status()).toMatchObject({ alive: false, counters: { rejected: { unpaired: 1 } } });

    const hellos = r.heard.filter((m) => m.type === 'hello').length;
    r.device.write(terminalFrame({ type: 'ack', seq: 2, ack: offer?.seq, fp: null }, { key: null, terminalBoot: HELLO.boot, bridgeBoot: RIG_BRIDGE_BOOT }));
    await waitUntil(() => r.heard.filter((m) => m.type === 'hello').length > hellos, 'a new greeting once the key is taken');
    r.send({ ...HELLO });
    await waitUntil(() => r.link.status().alive, 'the terminal taken');
    expect(pairing.pins).toEqual(['T-NEW']);
    expect(paired).toEqual(['T-NEW']);
    expect(r.link.status().pairing).toEqual({ serial: 'T-NEW', replacedBy: null });
  });

  it('a key offer the terminal refused (nak) is offered again to its next hello, not awaited for ever', async () => {
    const pairing = memoryPairing(null);
    const r = await terminalLinkRig(cleanups, 60_000, pairing);
    const offers = () => new Set(r.heard.filter((m) => m.type === 'pair').map((m) => m.seq));
    const frame = (message: Record<string, unknown> & { type: string }) => terminalFrame(message, { key: null, terminalBoot: HELLO.boot, bridgeBoot: RIG_BRIDGE_BOOT });
    r.device.write(frame({ ...HELLO, seq: 1 }));
    await waitUntil(() => offers().size === 1, 'the key offered');
    const offer = r.heard.find((m) => m.type === 'pair');
    r.device.write(frame({ type: 'nak', seq: 2, nak: offer?.seq, problem: 'key: not now', fp: null }));
    await waitUntil(() => r.link.status().counters.refusedByPeer === 1, 'the offer refused');
    r.device.write(frame({ ...HELLO, seq: 3 }));
    await waitUntil(() => offers().size === 2, 'the key offered again');
    expect(r.link.status().counters.rejected.unpaired).toBe(2);
  });

  it('a pairing it cannot keep (disk full) leaves the terminal untaken, without a crash, until it can', async () => {
    const pairing = memoryPairing(null);
    let full = true;
    const failing = {
      key: pairing.key,
      get serial() {
        return pairing.serial;
      },
      pin(serial: string) {
        if (full) throw new Error('ENOSPC: no space left on device');
        pairing.pin(serial);
      },
    };
    const r = await terminalLinkRig(cleanups, 60_000, failing);
    r.send({ ...HELLO });
    await waitUntil(() => r.link.status().counters.rejected.unpaired === 1, 'the hello refused');
    expect(r.link.status()).toMatchObject({ alive: false, pairing: { serial: null } });
    full = false;
    r.send({ ...HELLO });
    await waitUntil(() => r.link.status().alive, 'the terminal taken once the pairing is kept');
    expect(pairing.pins).toEqual(['T-NEW']);
  });

  it('a hello answering another bridge boot is not taken: counted as stale_session, and the terminal greeted', async () => {
    const r = await terminalLinkRig(cleanups);
    const hellos = r.heard.filter((m) => m.type === 'hello').length;
    r.device.write(terminalFrame({ ...HELLO, serial: 'T-UPPER', seq: 1 }, { key: TEST_PAIRING_KEY, terminalBoot: HELLO.boot, bridgeBoot: 'ffff0000ffff0000' }));
    await waitUntil(() => r.link.status().counters.rejected.stale_session === 1, 'the stale hello refused');
    expect(r.link.status().alive).toBe(false);
    // Our own hello was acknowledged by nobody yet, so it is still on its way: once it is, a stale hello brings a new one.
    const pending = r.heard.filter((m) => m.type === 'hello');
    r.device.write(terminalFrame({ type: 'ack', seq: 2, ack: pending.at(-1)?.seq, fp: null }, { key: null, terminalBoot: HELLO.boot, bridgeBoot: RIG_BRIDGE_BOOT }));
    r.device.write(terminalFrame({ ...HELLO, serial: 'T-UPPER', seq: 3 }, { key: TEST_PAIRING_KEY, terminalBoot: HELLO.boot, bridgeBoot: 'ffff0000ffff0000' }));
    await waitUntil(() => r.heard.filter((m) => m.type === 'hello').length > Math.max(hellos, pending.length), 'the terminal greeted again');
  });

  it('a terminal that reboots again after answering our greeting is greeted anew: the greeting its last boot voided is not awaited', async () => {
    const r = await terminalLinkRig(cleanups);
    // Greetings by their seq: a resend of one is the same greeting.
    const greetings = () => r.heard.filter((m) => m.type === 'hello').map((m) => m.seq);
    let seq = 0;
    const hello = (boot: string, bridgeBoot: string) =>
      r.device.write(terminalFrame({ ...HELLO, serial: 'T-UPPER', boot, seq: ++seq }, { key: TEST_PAIRING_KEY, terminalBoot: boot, bridgeBoot }));
    const ack = (boot: string, acked: number | undefined) => r.device.write(terminalFrame({ type: 'ack', seq: ++seq, ack: acked, fp: null }, { key: null, terminalBoot: boot, bridgeBoot: RIG_BRIDGE_BOOT }));
    hello('aaaa1111', RIG_BRIDGE_BOOT);
    ack('aaaa1111', greetings().at(-1));
    await waitUntil(() => r.link.status().alive, 'the terminal taken');
    // It reboots: its new boot's hello answers no bridge boot, and is greeted.
    const first = new Set(greetings()).size;
    hello('bbbb2222', 'ffff0000ffff0000');
    await waitUntil(() => new Set(greetings()).size > first, 'a greeting for the second boot');
    // It answers that greeting (its hello first, then the ack, as the firmware does), then reboots again.
    const answered = greetings().at(-1);
    hello('bbbb2222', RIG_BRIDGE_BOOT);
    await waitUntil(() => r.link.status().terminal?.boot === 'bbbb2222', 'the second boot taken');
    ack('bbbb2222', answered);
    const second = new Set(greetings()).size;
    hello('cccc3333', 'ffff0000ffff0000');
    await waitUntil(() => r.link.status().counters.rejected.stale_session === 2, 'the third boot’s stale hello refused');
    await waitUntil(() => new Set(greetings()).size > second, 'a greeting for the third boot');
  });
});
