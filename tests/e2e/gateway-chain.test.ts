import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey, publicKeyText, terminalKeyFile } from '../../bridge/identity/terminal-key.js';
import { SimulatedHall } from '../../simulator/hall.js';
import { SAMPLE_STAFF_PIN } from '../../simulator/sample-staff.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { eventually } from '../support/gateway-fixture.js';

/**
 * The whole chain as `hcp start` runs it, on its embedded defaults: virtual terminals, real
 * bridges, the embedded broker, and the gateway on PGlite in the data folder, which registers each
 * terminal on its first key and stores and acknowledges its records.
 */

const dir = mkdtempSync(join(tmpdir(), 'hcp-gateway-chain-'));
let hall: SimulatedHall | undefined;

afterAll(async () => {
  await hall?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function keyOf(window: SimWindow): string {
  return publicKeyText(loadOrCreateSigningKey(terminalKeyFile(window.bridge.config)).publicKey);
}

/** Signs staff S1001 in by PIN (the hall's windows check the sample roster), invites, the citizen presses; the rating's id once stored. */
async function rate(window: SimWindow, caseNo: string, button: number): Promise<string> {
  if (window.bridge.desk.staffId === null) await window.signIn('S1001', SAMPLE_STAFF_PIN);
  const id = await window.invite({ services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo }] });
  await waitUntil(() => window.terminal.core.state === 'invited', `invitation ${id} on the terminal`);
  await window.terminal.press(button);
  await waitUntil(() => window.bridge.outbox.get(id) !== undefined, `rating ${id} stored at the bridge`);
  return id;
}

describe('the chain of hcp start: terminal, bridge, embedded broker, gateway on PGlite', () => {
  // A hall starts here: on a loaded 2-core machine that alone can take 20 s.
  it('a rating ends in the gateway’s records once, sealed, from a terminal registered with its key', { timeout: 90_000 }, async () => {
    hall = await SimulatedHall.start({ windows: 2, dataDir: dir, traffic: false });
    const { gateway } = hall;
    const [w1] = hall.windows;
    expect(gateway.status().database.kind).toBe('pglite');

    const id = await rate(w1!, 'GC-330106-0001', 0);
    await waitUntil(() => w1!.bridge.outbox.get(id)?.state === 'acked', 'the gateway’s ack at the bridge', { timeoutMs: 10_000 });
    const { rows } = await gateway.db.query<{ terminal_id: string; kind: string; seal: string; outcome: string; grade: string }>(
      `SELECT terminal_id, kind, seal, outcome, grade FROM records WHERE id = $1`,
      [id],
    );
    expect(rows).toEqual([{ terminal_id: w1!.terminalId, kind: 'invitation', seal: 'ok', outcome: 'rated', grade: expect.any(String) }]);
    expect(await gateway.registry.get(w1!.terminalId)).toMatchObject({ status: 'approved', publicKey: keyOf(w1!), pendingKey: null });
  });

  it('a terminal bringing another key later stays approved with the old one; its records wait, unacknowledged, until the operator approves the new key', { timeout: 60_000 }, async () => {
    const { gateway, windows } = hall!;
    const w2 = windows[1]!;
    const first = await rate(w2, 'GC-330106-0002', 1);
    await waitUntil(() => w2.bridge.outbox.get(first)?.state === 'acked', 'the first rating acked');
    const oldKey = keyOf(w2);

    // The Pi's key lost and made again (a new SD card): the bridge comes back with another key.
    await w2.restartBridge(async () => rmSync(terminalKeyFile(w2.bridge.config)));
    await w2.ready();
    const newKey = keyOf(w2);
    expect(newKey).not.toBe(oldKey);
    await eventually(async () => (await gateway.registry.get(w2.terminalId))?.pendingKey === newKey, 'the new key waiting for the operator');
    expect(await gateway.registry.get(w2.terminalId)).toMatchObject({ status: 'approved', publicKey: oldKey });

    const held = await rate(w2, 'GC-330106-0003', 2);
    await eventually(
      async () => (await gateway.db.query(`SELECT 1 FROM refusals WHERE id = $1 AND disposition = 'held'`, [held])).rows.length > 0,
      'the rating under the new key held',
    );
    expect(w2.bridge.outbox.get(held)?.state).toBe('pending');
    expect((await gateway.db.query(`SELECT 1 FROM records WHERE id = $1`, [held])).rows).toEqual([]);

    const approved = await gateway.registry.approve(w2.terminalId, { actor: 'gateway-chain test', key: newKey });
    expect(approved).toMatchObject({ terminal: { status: 'approved', publicKey: newKey, pendingKey: null } });
    // The bridge publishes what waits again at its next ack timeout (30 s by default) or, sooner here, its next connection.
    await w2.restartBridge();
    await waitUntil(() => w2.bridge.outbox.stats().pending === 0, 'the held records acked once approved', { timeoutMs: 10_000 });
    expect(w2.bridge.outbox.get(held)?.state).toBe('acked');
    const { rows } = await gateway.db.query<{ id: string; n: number }>(`SELECT id::text AS id, count(*)::int AS n FROM records WHERE id = ANY($1::uuid[]) GROUP BY id ORDER BY id`, [[first, held]]);
    expect(rows).toEqual([first, held].sort().map((id) => ({ id, n: 1 })));
    // Verified under the key approved since (the first record under it starts that key's chain).
    expect((await gateway.db.query(`SELECT seal FROM records WHERE id = $1`, [held])).rows).toEqual([{ seal: 'ok' }]);
  });
});
