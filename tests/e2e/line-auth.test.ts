import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pairingFile, readPairing, resetPairing } from '../../bridge/terminal/pairing.js';
import { MemoryJournal } from '../../simulator/memory-journal.js';
import { refusalOf, SimWindow } from '../../simulator/sim-window.js';
import { VirtualTerminal } from '../../simulator/virtual-terminal.js';
import { waitUntil } from '../../simulator/wait.js';
import { notAudit } from '../support/audit-events.js';
import { useBrokerAndProvince } from '../support/broker-and-province.js';
import { terminalFrame, TEST_PAIRING_KEY } from '../support/paired-line.js';

/*
 * Issue 12's attack on the serial line, repeated on the whole path (virtual terminal, real bridge,
 * embedded broker, province emulator): a frame with a valid CRC written to the line by someone
 * other than the paired terminal closes nothing, and another device on the line rates nothing
 * until a technician re-pairs.
 */
const service = { itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: 'C-2026-000999' };
let counter = 0;

const env = useBrokerAndProvince('hcp-line-auth-');

async function openWindow(): Promise<SimWindow> {
  counter += 1;
  const windowDir = join(env.dir, `w-${counter}`);
  mkdirSync(windowDir);
  const w = await SimWindow.start({ brokerUrl: env.broker.url, windowNo: `L${counter}`, terminalId: `AUTH-${process.pid}-${counter}`, dbPath: join(windowDir, 'hcp.db') });
  env.cleanups.push(() => w.stop());
  await waitUntil(() => w.bridge.status().link.alive, 'the terminal paired and heard');
  expect((await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S3001' })).status).toBe(200);
  return w;
}

/** The session of the terminal and bridge as they are now: both boot ids, from the hellos. */
function liveSession(w: SimWindow): { terminalBoot: string; bridgeBoot: string } {
  const terminalBoot = w.bridge.status().link.terminal?.boot;
  if (!terminalBoot) throw new Error('no terminal hello');
  return { terminalBoot, bridgeBoot: w.bridge.status().link.bootId };
}

describe('the serial line is authenticated', () => {
  it('a rating with a valid CRC injected on the line, untagged or tagged with another key, closes nothing; the citizen then rates', async () => {
    const w = await openWindow();
    const id = await w.invite({ services: [service] });
    await waitUntil(() => w.terminal.leds().every(Boolean), 'the terminal showing the invitation');
    const session = liveSession(w);
    const forged = { type: 'rating', seq: 900, inv: id, grade: 'very_satisfied', latencyMs: 4000, reason: null };
    w.line.injectToBridge(terminalFrame(forged, { key: null, ...session }));
    w.line.injectToBridge(terminalFrame({ ...forged, seq: 901 }, { key: TEST_PAIRING_KEY, ...session }));
    await waitUntil(() => w.bridge.status().link.counters.rejected.unauthenticated === 2, 'both forgeries refused and counted');

    expect(w.bridge.desk.current()?.id).toBe(id);
    expect(w.terminal.leds()).toEqual([true, true, true, true, true]);
    await w.terminal.press(1);
    const record = await env.province.waitFor(() => env.province.recordsOf(w.terminalId).find((r) => r.id === id));
    expect(record).toMatchObject({ kind: 'invitation', outcome: 'rated', rating: { grade: 'satisfied' } });
    expect(env.province.recordsOf(w.terminalId).filter(notAudit)).toHaveLength(1);
  });

  it('a frame tagged with the real key but for an earlier session (a recording replayed after a bridge restart) is refused', async () => {
    const w = await openWindow();
    const { key } = readPairing(pairingFile(w.bridge.config));
    const before = liveSession(w);
    await w.restartBridge();
    await waitUntil(() => w.bridge.status().link.alive, 'the terminal heard by the new bridge');
    expect(liveSession(w).bridgeBoot).not.toBe(before.bridgeBoot);
    const id = await w.invite({ services: [service] });
    await waitUntil(() => w.terminal.leds().every(Boolean), 'the terminal showing the invitation');

    const rating = { type: 'rating', seq: 950, inv: id, grade: 'very_satisfied', latencyMs: 4000, reason: null };
    w.line.injectToBridge(terminalFrame(rating, { key, ...before }));
    await waitUntil(() => w.bridge.status().link.counters.rejected.unauthenticated === 1, 'the replay refused');
    expect(w.bridge.desk.current()?.id).toBe(id);

    // The same frame for this session is taken: what the replay lacked was the session, nothing else.
    w.line.injectToBridge(terminalFrame(rating, { key, ...liveSession(w) }));
    const record = await env.province.waitFor(() => env.province.recordsOf(w.terminalId).find((r) => r.id === id));
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'very_satisfied' } });
  });

  it('another device on the line raises terminal_replaced and rates nothing until a technician re-pairs', async () => {
    const w = await openWindow();
    const paired = w.bridge.status().link.pairing.serial;
    expect(paired).toBe(`SIM-${w.terminalId}`);
    // The pairing at the first start is in the audit, upstream.
    const pairing = await env.province.waitFor(() => env.province.recordsOf(w.terminalId).find((r) => r.kind === 'event' && r.type === 'staff_action' && r.detail.action === 'pairing'));
    expect(pairing).toMatchObject({ detail: { action: 'pairing', serial: paired } });
    await waitUntil(() => w.bridge.outbox.stats().pending === 0, 'the pairing audit entry delivered');
    const outboxBefore = w.bridge.outbox.stats().pending + w.bridge.outbox.stats().acked;
    await w.terminal.stop();
    const impostor = await VirtualTerminal.start({ devicePath: w.line.devicePath, serial: 'SIM-IMPOSTOR', journal: new MemoryJournal() });
    env.cleanups.push(() => impostor.stop());

    await waitUntil(() => w.bridge.status().alarms.includes('terminal_replaced'), 'the terminal_replaced alarm');
    expect(w.bridge.status().link).toMatchObject({ alive: false, pairing: { serial: paired, replacedBy: 'SIM-IMPOSTOR' } });
    const refused = await w.api('POST', '/api/v1/invitations', { services: [service] });
    expect(refused.status).toBe(503);
    expect(refusalOf(refused).code).toBe('terminal_offline');
    const refusedStrays: string[] = [];
    w.bridge.on('frameRejected', (reason, detail) => detail.startsWith('stray') && refusedStrays.push(reason));
    await impostor.press(0);
    await waitUntil(() => refusedStrays.length > 0, "the impostor's stray press refused");
    expect(refusedStrays[0]).toBe('foreign_device');
    expect(w.bridge.outbox.stats().pending + w.bridge.outbox.stats().acked).toBe(outboxBefore);
    expect(env.province.recordsOf(w.terminalId).filter(notAudit)).toHaveLength(0);

    // The technician re-pairs (hcp pair: a new key, nothing pinned) and restarts the bridge.
    await w.restartBridge(async () => void resetPairing(pairingFile(w.bridge.config)));
    await waitUntil(() => w.bridge.status().link.alive, 'the new terminal paired');
    expect(w.bridge.status().link.pairing).toEqual({ serial: 'SIM-IMPOSTOR', replacedBy: null });
    expect(w.bridge.status().alarms).not.toContain('terminal_replaced');
    // Its stray press, journaled meanwhile, now arrives tagged.
    await env.province.waitFor(() => env.province.recordsOf(w.terminalId).find((r) => r.kind === 'event' && r.type === 'stray_press'));
  });
});
