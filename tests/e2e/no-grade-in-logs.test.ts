import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRADE_INFO, GRADES } from '../../protocol/grades.js';
import { EmbeddedBroker } from '../../simulator/broker.js';
import { ProvinceEmulator } from '../../simulator/province.js';
import { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';

/**
 * Issue 12, item 6: a citizen's grade is never written to the bridge's log, at any level. The
 * real bridge (a simulated window: virtual terminal, SQLite, HTTP, broker, province) logs at
 * `trace` into memory while citizens rate with every button; the grades reach the province, and
 * not one log line names a grade, in English or Chinese.
 */
let broker: EmbeddedBroker;
let province: ProvinceEmulator;
let dir: string;

beforeAll(async () => {
  broker = await EmbeddedBroker.start({ port: 0 });
  province = await ProvinceEmulator.start({ url: broker.url });
  dir = mkdtempSync(join(tmpdir(), 'hcp-no-grade-'));
});
afterAll(async () => {
  await province.stop();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the bridge log', () => {
  it('names no grade at trace level while every button is pressed', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString('utf8')), done()) }));
    const window = await SimWindow.start({ brokerUrl: broker.url, windowNo: 'L01', terminalId: 'T-NOLOG-1', dbPath: join(dir, 'nolog.db'), bridgeDeps: { logger } });
    try {
      expect((await window.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1001' })).status).toBe(200);
      const ids: string[] = [];
      for (const button of GRADES.keys()) {
        const id = await window.invite({ services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: `C-${button}` }] });
        await waitUntil(() => window.terminal.core.state === 'invited', 'the terminal to show the invitation');
        await window.terminal.press(button);
        // A bad grade waits for a reason; the citizen leaves without one.
        await province.waitFor(() => province.recordsOf(window.terminalId).find((r) => r.id === id), { timeoutMs: 60_000 });
        ids.push(id);
      }
      const grades = province.recordsOf(window.terminalId).flatMap((r) => ('rating' in r && r.rating ? [r.rating.grade] : []));
      expect(new Set(grades)).toEqual(new Set(GRADES));
      expect(lines.length).toBeGreaterThan(0);
      const log = lines.join('');
      // The closing path logs through this logger (so a grade added to its line would be seen).
      expect(log).toContain('invitation closed');
      for (const grade of GRADES) {
        expect(log, `the log names ${grade}`).not.toContain(grade);
        expect(log, `the log names ${GRADE_INFO[grade].zh}`).not.toContain(GRADE_INFO[grade].zh);
      }
    } finally {
      await window.stop();
    }
  }, 120_000);
});
