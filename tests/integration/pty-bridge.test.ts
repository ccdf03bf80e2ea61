import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../simulator/broker.js';
import { ProvinceEmulator } from '../../simulator/province.js';
import { PtyLine } from '../../simulator/pty-line.js';
import { VirtualTerminal } from '../../simulator/virtual-terminal.js';
import { waitUntil } from '../../simulator/wait.js';
import { BridgeProcess, type BridgeStatusJson } from '../support/bridge-process.js';

/**
 * The harness for the fault suite: the real bridge CLI (`hcp run`) in a child process, killed
 * with SIGKILL and restarted on the same database, while the virtual terminal lives on in this
 * process at the other end of a real serial line (a socat pty pair, serialport's real binding).
 */
const TERMINAL_ID = 'T-330106-PTY';
const SERIAL = 'PTY-SIM-0001';

let broker: EmbeddedBroker;
let province: ProvinceEmulator;
let line: PtyLine;
let terminal: VirtualTerminal;
let bridge: BridgeProcess | undefined;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hcp-pty-bridge-'));
  broker = await EmbeddedBroker.start();
  province = await ProvinceEmulator.start({ url: broker.url });
  line = await PtyLine.start();
  terminal = await VirtualTerminal.start({
    devicePath: line.devicePath,
    serial: SERIAL,
    openPort: (path) => new SerialPort({ path, baudRate: 115200, autoOpen: false }),
  });
});

afterAll(async () => {
  // Each step runs even if an earlier one failed, so that nothing outlives the file.
  const steps: Array<() => Promise<unknown> | undefined> = [
    () => bridge?.stop(),
    () => terminal?.stop(),
    () => line?.stop(),
    () => province?.stop(),
    () => broker?.stop(),
  ];
  for (const step of steps) await Promise.resolve(step()).catch((err: unknown) => console.error('cleanup:', err));
  rmSync(dir, { recursive: true, force: true });
});

const linked = (s: BridgeStatusJson): boolean => s.device.alive && s.device.device?.serial === SERIAL && s.broker.connected;

/** Signs in, invites, presses `button` on the terminal; resolves with the province's record. */
async function rateOnce(b: BridgeProcess, caseNo: string, button: number) {
  expect((await b.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1001' })).status).toBe(200);
  const invited = await b.api('POST', '/api/v1/invitations', {
    services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo }],
  });
  expect(invited.status, JSON.stringify(invited.body)).toBe(201);
  const id = invited.body.id as string;
  await waitUntil(() => terminal.core.state === 'invited', `the terminal to show invitation ${id}`);
  await terminal.press(button);
  return province.waitFor(() => province.records().find((r) => r.id === id), { timeoutMs: 10_000 });
}

describe('bridge as a child process on a pty serial line', () => {
  it('rates, survives SIGKILL and a restart, reconnects to the terminal and rates again, once per invitation', async () => {
    bridge = await BridgeProcess.start({
      config: {
        terminal: { id: TERMINAL_ID, areaCode: '330106', hallCode: '330106-ZWFW-01', windowNo: 'P01' },
        serial: { path: line.bridgePath },
        mqtt: { url: broker.url },
        database: { path: join(dir, 'hcp.db') },
        // The test machine's clock is right; `ntp` would hold records until the OS reports a sync.
        clock: { trust: 'system' },
      },
    });
    const b = bridge;
    const firstPid = b.pid;
    await b.waitForStatus(linked, 'the terminal hello and the broker connection');

    const first = await rateOnce(b, 'PTY-0001', 3);
    expect(first).toMatchObject({ kind: 'invitation', outcome: 'rated', terminalId: TERMINAL_ID, rating: { grade: 'dissatisfied' } });

    expect(await b.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await expect(b.status()).rejects.toThrow(); // nobody listens any more
    await b.restart();
    expect(b.pid).not.toBe(firstPid);
    const status = await b.waitForStatus(linked, 'the restarted bridge to hear the terminal again');
    expect(status.device.device?.serial).toBe(SERIAL);

    const second = await rateOnce(b, 'PTY-0002', 1);
    expect(second).toMatchObject({ outcome: 'rated', rating: { grade: 'satisfied' } });

    // Exactly one record per invitation reached the province (a resend is a duplicate, not a record).
    const records = province.recordsOf(TERMINAL_ID);
    expect(records.filter((r) => r.id === first.id)).toHaveLength(1);
    expect(records.filter((r) => r.id === second.id)).toHaveLength(1);
    expect(records.filter((r) => r.kind === 'invitation').map((r) => r.id)).toEqual([first.id, second.id]);
    expect(province.rejections()).toEqual([]);

    expect(await b.stop()).toEqual({ code: 0, signal: null });
    expect(b.logs()).toContain('"msg":"bridge started"');
  });
});
