import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRADES } from '../../protocol/grades.js';
import { EmbeddedBroker } from '../../simulator/broker.js';
import { ProvinceEmulator } from '../../simulator/province.js';
import { PtyLine } from '../../simulator/pty-line.js';
import { seededRandom } from '../../simulator/random.js';
import { VirtualTerminal } from '../../simulator/virtual-terminal.js';
import { waitUntil } from '../../simulator/wait.js';
import { BridgeProcess, type BridgeStatusJson } from '../support/bridge-process.js';

/**
 * The real bridge (`hcp run`, a child process) killed with SIGKILL at random points of the
 * rating pipeline (while the invitation is open and the press happens with no bridge, just
 * after the press while the record is being committed, acknowledged to the terminal,
 * published or acknowledged by the province) and restarted on the same database. The terminal
 * lives on at the other end of a real serial line (a socat pty pair).
 */
const SERIAL = 'PTY-KILL-0001';
const ROUNDS = 10;

let broker: EmbeddedBroker;
let province: ProvinceEmulator;
let line: PtyLine;
let terminal: VirtualTerminal;
let bridge: BridgeProcess | undefined;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hcp-kill-'));
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

describe('bridge killed with SIGKILL at random points', () => {
  it('every rating the terminal made while invited reaches the province exactly once, with its grade', async () => {
    bridge = await BridgeProcess.start({
      config: {
        terminal: { id: 'T-330106-KILL', areaCode: '330106', hallCode: '330106-ZWFW-01', windowNo: 'K01' },
        serial: { path: line.bridgePath },
        mqtt: { url: broker.url, reconnectMinSeconds: 0.1, reconnectMaxSeconds: 0.5 },
        database: { path: join(dir, 'hcp.db') },
        clock: { trust: 'system' },
      },
    });
    const b = bridge;
    const random = seededRandom(2026);
    const expected = new Map<string, string>(); // invitation id -> grade pressed
    await b.waitForStatus(linked, 'the bridge to hear the terminal');
    expect((await b.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1001' })).status).toBe(200);

    for (let round = 0; round < ROUNDS; round++) {
      await b.waitForStatus((s) => linked(s) && s.invitation === null, 'a linked bridge with no open invitation', { timeoutMs: 20_000 });
      await waitUntil(() => terminal.core.state !== 'invited', 'the terminal to be free');
      const invited = await b.api('POST', '/api/v1/invitations', { services: [{ itemCode: '330106-XK-0012', caseNo: `C-KILL-${round}` }] });
      expect(invited.status, JSON.stringify(invited.body)).toBe(201);
      const id = invited.body.id as string;
      await waitUntil(() => terminal.core.state === 'invited', `the terminal to show invitation ${id}`);
      const button = Math.floor(random() * 5);
      expected.set(id, GRADES[button]!);

      if (random() < 0.3) {
        // Killed while the invitation is open: the citizen presses while no bridge runs.
        await b.kill('SIGKILL');
        await terminal.press(button);
      } else {
        // Killed somewhere between the press and the province's ack.
        const pressed = terminal.press(button);
        await delay(Math.floor(random() * 60));
        await b.kill('SIGKILL');
        await pressed;
      }
      await b.restart();
    }

    await waitUntil(() => terminal.core.unacknowledged === 0, 'the terminal to have every report acknowledged', { timeoutMs: 20_000 });
    await province.waitFor(() => [...expected.keys()].every((id) => province.records().some((r) => r.id === id)), { timeoutMs: 30_000 });
    for (const [id, grade] of expected) {
      const copies = province.records().filter((r) => r.id === id);
      expect(copies, `invitation ${id}`).toHaveLength(1);
      expect(copies[0]).toMatchObject({ kind: 'invitation', outcome: 'rated', rating: { grade } });
    }
    expect(province.records().filter((r) => r.kind === 'invitation')).toHaveLength(ROUNDS);
    expect(province.stats.rejected).toBe(0);
    await b.waitForStatus((s) => s.backlog.pending === 0, 'the outbox to empty');
  }, 120_000);
});
