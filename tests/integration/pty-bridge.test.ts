import { describe, expect, it } from 'vitest';
import { invitationIdOf } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import type { BridgeProcess } from '../support/bridge-process.js';
import { BROKERS, type BrokerKind } from '../support/brokers.js';
import { usePtyRig, type PtyRig } from '../support/pty-rig.js';

/**
 * The harness for the fault suite: the real bridge CLI (`hcp run`) in a child process, killed
 * with SIGKILL and restarted on the same database, while the virtual terminal lives on in this
 * process at the other end of a real serial line (a socat pty pair, serialport's real binding).
 */
const TERMINAL_ID = 'T-330106-PTY';
const SERIAL = 'PTY-SIM-0001';
const rigFor = (kind: BrokerKind) => usePtyRig(SERIAL, kind);

/** Signs in, invites, presses `button` on the terminal; resolves with the province's record. */
async function rateOnce(rig: PtyRig, b: BridgeProcess, caseNo: string, button: number) {
  expect((await b.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1001' })).status).toBe(200);
  const invited = await b.api('POST', '/api/v1/invitations', {
    services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo }],
  });
  const id = invitationIdOf(invited);
  await waitUntil(() => rig.terminal.core.state === 'invited', `the terminal to show invitation ${id}`);
  await rig.terminal.press(button);
  return rig.province.waitFor(() => rig.province.records().find((r) => r.id === id), { timeoutMs: 10_000 });
}

describe.each(BROKERS)('bridge as a child process on a pty serial line ($name broker)', (kind) => {
  const rig = rigFor(kind);

  it('rates, survives SIGKILL and a restart, reconnects to the terminal and rates again, once per invitation', async () => {
    const b = await rig.startBridge(TERMINAL_ID);
    const firstPid = b.pid;
    await b.waitForStatus(rig.linked, 'the terminal hello and the broker connection');

    const first = await rateOnce(rig, b, 'PTY-0001', 3);
    expect(first).toMatchObject({ kind: 'invitation', outcome: 'rated', terminalId: TERMINAL_ID, rating: { grade: 'dissatisfied' } });

    expect(await b.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await expect(b.status()).rejects.toThrow(); // nobody listens any more
    await b.restart();
    expect(b.pid).not.toBe(firstPid);
    const status = await b.waitForStatus(rig.linked, 'the restarted bridge to hear the terminal again');
    expect(status.link.terminal?.serial).toBe(SERIAL);

    const second = await rateOnce(rig, b, 'PTY-0002', 1);
    expect(second).toMatchObject({ outcome: 'rated', rating: { grade: 'satisfied' } });

    // Exactly one record per invitation reached the province (a resend is a duplicate, not a record).
    const records = rig.province.recordsOf(TERMINAL_ID);
    expect(records.filter((r) => r.id === first.id)).toHaveLength(1);
    expect(records.filter((r) => r.id === second.id)).toHaveLength(1);
    expect(records.filter((r) => r.kind === 'invitation').map((r) => r.id)).toEqual([first.id, second.id]);
    expect(rig.province.rejections()).toEqual([]);

    expect(await b.stop()).toEqual({ code: 0, signal: null });
    expect(b.logs()).toContain('"msg":"bridge started"');
  });
});
