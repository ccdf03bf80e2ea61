import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/frame.js';
import { GRADES } from '../../protocol/grades.js';
import { lineSession, lineTagger, sealFrameJson } from '../../protocol/line-auth.js';
import { waitUntil } from '../../simulator/wait.js';
import { TEST_PAIRING_KEY, terminalFrame } from '../support/paired-line.js';
import { RIG_TERMINAL_SERIAL, terminalLinkRig } from '../support/terminal-link-rig.js';

/*
 * Hostile frames on a paired line: every one has a valid CRC and a valid shape (so nothing but its
 * tag can refuse it), and none carries a tag that holds for this session. None may reach the desk,
 * and each must be counted. One link for the whole run, as a bridge meets them.
 */
const cleanups: (() => unknown)[] = [];
let r: Awaited<ReturnType<typeof terminalLinkRig>>;

beforeAll(async () => {
  r = await terminalLinkRig(cleanups);
  r.send({ type: 'hello', proto: 1, fw: '0.1.0', serial: RIG_TERMINAL_SERIAL, boot: 'feedface01' });
  await waitUntil(() => r.link.status().alive, 'the paired terminal taken');
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const inv = fc.stringMatching(/^[\w-]{1,40}$/);
const grade = fc.constantFrom(...GRADES);
const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));
/** Reports a terminal may send, each a valid message. */
const report = fc.oneof(
  fc.record({ type: fc.constant('rating'), inv, grade, latencyMs: fc.nat(100_000), reason: fc.constantFrom(null, 0, 1, 2) }),
  fc.record({ type: fc.constant('expired'), inv }),
  fc.record({ type: fc.constant('cancelled'), inv }),
  fc.record({ type: fc.constant('stray'), grade, ref: inv }),
  fc.record({ type: fc.constant('stuck'), button: fc.nat(4), heldMs: fc.nat(100_000), ref: inv }),
);

type Forgery = (message: Record<string, unknown> & { type: string }) => string;
const forgeries: fc.Arbitrary<Forgery> = fc.oneof(
  // No tag at all: the attack.
  fc.constant<Forgery>((m) => encodeFrame(m)),
  // A tag of the right form that is not the right one.
  hex(16).map((mac): Forgery => (m) => encodeFrame({ ...m, mac })),
  // A tag of the wrong form, or in the wrong place.
  fc.string({ maxLength: 20 }).map((mac): Forgery => (m) => encodeFrame({ mac, ...m })),
  // Under another key, for this very session.
  hex(64).filter((key) => key !== TEST_PAIRING_KEY).map((key): Forgery => (m) => terminalFrame(m, { key, ...r.session() })),
  // Under the right key, for another session (a recording from an earlier boot of either side).
  fc.tuple(hex(10), hex(16)).filter(([t, b]) => lineSession(t, b) !== lineSession(r.session().terminalBoot, r.session().bridgeBoot)).map(([terminalBoot, bridgeBoot]): Forgery => (m) => terminalFrame(m, { key: TEST_PAIRING_KEY, terminalBoot, bridgeBoot })),
  // Under the right key and session, then changed (the tag kept).
  fc.constant<Forgery>((m) => {
    const tagger = lineTagger(TEST_PAIRING_KEY);
    const { terminalBoot, bridgeBoot } = r.session();
    return encodeFrame(m, (json) => sealFrameJson(tagger, lineSession(terminalBoot, bridgeBoot), json).replace('"seq":', '"seq":1'));
  }),
);

describe('a paired line under hostile frames', () => {
  it('never hands on a report without a tag that holds for the session, and counts each', async () => {
    let seq = 5000;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(report, forgeries), { minLength: 1, maxLength: 5 }), async (frames) => {
        const before = r.link.status().counters.rejected.unauthenticated ?? 0;
        for (const [message, forge] of frames) r.device.write(forge({ ...message, seq: (seq += 1) }));
        await waitUntil(() => (r.link.status().counters.rejected.unauthenticated ?? 0) === before + frames.length, 'every forgery counted');
        expect(r.reports).toHaveLength(0);
        expect(r.link.status()).toMatchObject({ alive: true, pairing: { replacedBy: null } });
      }),
      { numRuns: 60 },
    );
    // The line still works: the paired terminal's own report is taken.
    r.send({ type: 'stray', grade: 'satisfied', ref: 'genuine-1' });
    await waitUntil(() => r.reports.length === 1, 'the genuine report');
  });

  it("a forged hello from the paired serial neither replaces the terminal's session nor voids what the bridge has pending for it", async () => {
    const boot = r.link.status().terminal?.boot;
    const invite = r.link.send({ type: 'invite', inv: 'inv-pending', timeoutMs: 30_000, reasons: 0, reasonTimeoutMs: 15_000 });
    let seq = 9000;
    await fc.assert(
      fc.asyncProperty(hex(16), forgeries, async (forgedBoot, forge) => {
        const before = r.link.status().counters.rejected.unauthenticated ?? 0;
        r.device.write(forge({ type: 'hello', seq: (seq += 1), proto: 1, fw: '0.1.0', serial: RIG_TERMINAL_SERIAL, boot: forgedBoot, pending: [], peer: r.session().bridgeBoot }));
        await waitUntil(() => (r.link.status().counters.rejected.unauthenticated ?? 0) === before + 1, 'the forged hello counted');
        expect(r.link.status()).toMatchObject({ alive: true, terminal: { boot }, pairing: { replacedBy: null } });
      }),
      { numRuns: 40 },
    );
    // The invite is still being resent to the real terminal: nothing voided it.
    const sent = r.heard.filter((m) => m.type === 'invite' && m.seq === invite).length;
    await waitUntil(() => r.heard.filter((m) => m.type === 'invite' && m.seq === invite).length > sent, 'the invite resent');
  });
});
