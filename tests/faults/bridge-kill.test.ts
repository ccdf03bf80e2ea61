import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { GRADES } from '../../protocol/grades.js';
import { seededRandom } from '../../simulator/random.js';
import { invitationIdOf } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS, type BrokerKind } from '../support/brokers.js';
import { usePtyRig } from '../support/pty-rig.js';

/**
 * The real bridge (`hcp run`, a child process) killed with SIGKILL at random points of the
 * rating pipeline (while the invitation is open and the press happens with no bridge, just
 * after the press while the record is being committed, acknowledged to the terminal,
 * published or acknowledged by the province) and restarted on the same database. The terminal
 * lives on at the other end of a real serial line (a socat pty pair).
 */
const ROUNDS = 10;
const rigFor = (kind: BrokerKind) => usePtyRig('PTY-KILL-0001', kind);

describe.each(BROKERS)('bridge killed with SIGKILL at random points ($name broker)', (kind) => {
  const rig = rigFor(kind);

  it('an invitation the terminal never got before a crash is shown after the restart, and a cancel made just before a crash is carried out', async () => {
    const b = await rig.startBridge('T-330106-RESUME', { reconnectMinSeconds: 0.1, reconnectMaxSeconds: 0.5 });
    const invite = async (caseNo: string): Promise<string> => invitationIdOf(await b.api('POST', '/api/v1/invitations', { services: [{ itemCode: '330106-XK-0012', caseNo }] }));
    const delivered = async (id: string) => {
      await rig.province.waitFor(() => rig.province.records().some((r) => r.id === id), { timeoutMs: 20_000 });
      return rig.province.records().filter((r) => r.id === id);
    };
    /** The cable is out (the bridge still counts the terminal alive), then the bridge dies before it can resend. */
    const crashWithCableOut = async (whileOut: () => Promise<unknown>): Promise<void> => {
      await rig.terminal.unplug();
      await whileOut();
      await b.kill('SIGKILL');
      await rig.terminal.plug();
      expect(rig.terminal.core.state, 'the terminal before the restart').toBe(shownBefore);
      await b.restart();
    };
    let shownBefore: 'idle' | 'invited' = 'idle';
    try {
      await b.waitForStatus(rig.linked, 'the bridge to hear the terminal');
      expect((await b.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1002' })).status).toBe(200);

      let unseen = '';
      await crashWithCableOut(async () => (unseen = await invite('C-RESUME-1')));
      await waitUntil(() => rig.terminal.core.state === 'invited', 'the terminal to be sent the invitation again after the restart');
      await rig.terminal.press(3);
      expect(await delivered(unseen)).toEqual([expect.objectContaining({ outcome: 'rated', rating: expect.objectContaining({ grade: GRADES[3] }) })]);

      await b.waitForStatus((s) => rig.linked(s) && s.invitation === null, 'the bridge free for the next invitation');
      const cancelled = await invite('C-RESUME-2');
      await waitUntil(() => rig.terminal.core.state === 'invited', 'the terminal to show the second invitation');
      shownBefore = 'invited';
      await crashWithCableOut(async () => expect((await b.api('POST', `/api/v1/invitations/${cancelled}/cancel`, { reason: 'citizen_left' })).status).toBe(202));
      expect(await delivered(cancelled)).toEqual([expect.objectContaining({ outcome: 'cancelled', flags: [] })]);
      expect(rig.terminal.core.state).toBe('idle');
    } finally {
      await b.stop();
    }
  }, 90_000);

  it('every rating the terminal made while invited reaches the province exactly once, with its grade', async () => {
    const b = await rig.startBridge('T-330106-KILL', { reconnectMinSeconds: 0.1, reconnectMaxSeconds: 0.5 });
    const random = seededRandom(2026);
    const expected = new Map<string, string>(); // invitation id -> grade pressed
    await b.waitForStatus(rig.linked, 'the bridge to hear the terminal');
    expect((await b.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1001' })).status).toBe(200);

    for (let round = 0; round < ROUNDS; round++) {
      await b.waitForStatus((s) => rig.linked(s) && s.invitation === null, 'a linked bridge with no open invitation', { timeoutMs: 20_000 });
      await waitUntil(() => rig.terminal.core.state !== 'invited', 'the terminal to be free');
      const invited = await b.api('POST', '/api/v1/invitations', { services: [{ itemCode: '330106-XK-0012', caseNo: `C-KILL-${round}` }] });
      const id = invitationIdOf(invited);
      await waitUntil(() => rig.terminal.core.state === 'invited', `the terminal to show invitation ${id}`);
      const button = Math.floor(random() * 5);
      expected.set(id, GRADES[button]!);

      if (random() < 0.3) {
        // Killed while the invitation is open: the citizen presses while no bridge runs.
        await b.kill('SIGKILL');
        await rig.terminal.press(button);
      } else {
        // Killed somewhere between the press and the province's ack.
        const pressed = rig.terminal.press(button);
        await delay(Math.floor(random() * 60));
        await b.kill('SIGKILL');
        await pressed;
      }
      await b.restart();
    }

    await waitUntil(() => rig.terminal.core.unacknowledged === 0, 'the terminal to have every report acknowledged', { timeoutMs: 20_000 });
    await rig.province.waitFor(() => [...expected.keys()].every((id) => rig.province.records().some((r) => r.id === id)), { timeoutMs: 30_000 });
    for (const [id, grade] of expected) {
      const copies = rig.province.records().filter((r) => r.id === id);
      expect(copies, `invitation ${id}`).toHaveLength(1);
      expect(copies[0]).toMatchObject({ kind: 'invitation', outcome: 'rated', rating: { grade } });
    }
    expect(rig.province.recordsOf('T-330106-KILL').filter((r) => r.kind === 'invitation')).toHaveLength(ROUNDS);
    expect(rig.province.stats.rejected).toBe(0);
    await b.waitForStatus((s) => s.backlog.pending === 0, 'the outbox to empty');
  }, 120_000);
});
