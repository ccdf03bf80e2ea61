import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairingFile, readPairing } from '../../bridge/terminal/pairing.js';
import { MemoryJournal } from '../../simulator/memory-journal.js';
import { PtyLine } from '../../simulator/pty-line.js';
import { VirtualTerminal } from '../../simulator/virtual-terminal.js';
import { hcp } from '../support/run-hcp.js';

/*
 * `hcp pair` as a technician runs it, a child process on a real serial line (a socat pty pair)
 * with a virtual terminal at the far end: a new key, the terminal that takes it pinned.
 */
let dir: string;
let line: PtyLine;
const terminals: VirtualTerminal[] = [];
const config = () => ({
  terminal: { id: 'PAIR-1', areaCode: '330106', hallCode: '330106-ZWFW-01', windowNo: 'P01' },
  serial: { path: line.bridgePath },
  // Pairing needs no broker: the uplink retries in the background meanwhile.
  mqtt: { url: 'mqtt://127.0.0.1:9' },
  database: { path: join(dir, 'hcp.db') },
  clock: { trust: 'system' },
  http: { port: 0, allowUnverifiedStaff: true },
  log: { level: 'silent' },
});

async function terminal(serial: string, journal = new MemoryJournal()): Promise<{ vt: VirtualTerminal; journal: MemoryJournal }> {
  const vt = await VirtualTerminal.start({ devicePath: line.devicePath, serial, journal, openPort: (path) => new SerialPort({ path, baudRate: 115200, autoOpen: false }) });
  terminals.push(vt);
  return { vt, journal };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hcp-pair-'));
  line = await PtyLine.start();
  writeFileSync(join(dir, 'bridge.json'), JSON.stringify(config()));
});

afterAll(async () => {
  for (const vt of terminals) await vt.stop();
  await line?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('hcp pair', () => {
  it('pairs the terminal on the line: a new key (mode 600) that the terminal keeps, its serial pinned; then pairs a replacement in its place', async () => {
    const first = await terminal('PTY-PAIR-1');
    const run = await hcp(['pair', '-c', join(dir, 'bridge.json'), '--timeout-seconds', '30'], 60_000);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/Paired with terminal PTY-PAIR-1/);
    expect(run.code).toBe(0);
    const path = pairingFile(config());
    const pairing = readPairing(path);
    expect(pairing).toMatchObject({ serial: 'PTY-PAIR-1', pairedAt: expect.any(String) });
    expect(first.journal.loadKey()).toBe(pairing.key);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // doctor checks the terminal's tag against the bridge's key (its other checks do not matter here).
    const doctor = await hcp(['doctor', '-c', join(dir, 'bridge.json'), '--timeout-seconds', '5']);
    expect(doctor.stdout).toMatch(/✔ terminal: answers on .*: serial PTY-PAIR-1, .*; paired: its tag holds/);

    await first.vt.stop();
    await terminal('PTY-PAIR-2');
    const swapped = await hcp(['doctor', '-c', join(dir, 'bridge.json'), '--timeout-seconds', '5']);
    expect(swapped.stdout).toMatch(/✘ terminal: answers on .*: serial PTY-PAIR-2, .* but is not the paired terminal PTY-PAIR-1: the service takes nothing from it \(alarm terminal_replaced\)/);
    expect(swapped.stdout).toContain('hcp pair -c');
    const again = await hcp(['pair', '-c', join(dir, 'bridge.json'), '--timeout-seconds', '30'], 60_000);
    expect(again.stdout).toMatch(/PTY-PAIR-1 is no longer paired/);
    expect(again.stdout).toMatch(/Paired with terminal PTY-PAIR-2/);
    const repaired = readPairing(path);
    expect(repaired.serial).toBe('PTY-PAIR-2');
    expect(repaired.key).not.toBe(pairing.key);
  });
});
