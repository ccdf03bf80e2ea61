import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BridgeConfigInput } from '../../bridge/config.js';
import { BROKERS } from '../support/brokers.js';
import { freePort } from '../../simulator/free-port.js';
import { usePtyRig } from '../support/pty-rig.js';
import { hcp } from '../support/run-hcp.js';
import { technician } from '../support/technician.js';

/*
 * `hcp selftest` as a technician runs it: the real CLI as a child process on a real serial line
 * (socat pty pair) to a virtual terminal, answering its prompts on stdin as a person would:
 * pressing the button it names, and saying yes only to what the terminal's pins really show.
 */
const rig = usePtyRig('ST-CLI-01', BROKERS[0]!);

async function configFile(name: string, httpPort: number): Promise<string> {
  const config: BridgeConfigInput = {
    terminal: { id: `T-ST-CLI-${process.pid}`, areaCode: '330106', hallCode: 'H-01', windowNo: 'S1' },
    serial: { path: rig.line.bridgePath },
    mqtt: { url: rig.broker.url },
    database: { path: join(rig.dir, `${name}.db`) },
    http: { port: httpPort },
    clock: { trust: 'system' },
  };
  const file = join(rig.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Runs `hcp selftest` and plays the technician at its prompts; resolves with its exit code and output. */
function selftestAtTheCounter(file: string): Promise<{ code: number | null; stdout: string }> {
  const person = technician({ terminal: rig.terminal });
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'selftest', '-c', file], { timeout: 120_000 });
  let stdout = '';
  let unread = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    unread += chunk.toString('utf8');
    for (;;) {
      // A question waits at the end of its line (the answer is not echoed); an instruction is a whole line.
      const question = /\? (.*?) \[y\/n\] /.exec(unread);
      const newline = unread.indexOf('\n');
      if (question?.[1] && (newline < 0 || question.index < newline)) {
        unread = unread.slice(question.index + question[0].length);
        void person.confirm(question[1]).then((yes) => child.stdin.write(yes ? 'y\n' : 'n\n'));
        continue;
      }
      if (newline < 0) break;
      const instruction = /→ (.*)$/.exec(unread.slice(0, newline));
      if (instruction?.[1]) person.say(instruction[1]);
      unread = unread.slice(newline + 1);
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
}

describe('hcp selftest', () => {
  it('walks the technician through every step and passes a sound terminal', { timeout: 90_000 }, async () => {
    const file = await configFile('good', await freePort());
    const { code, stdout } = await selftestAtTheCounter(file);
    expect(stdout).toContain('→ Press button 1 (非常满意).');
    expect(stdout).toMatch(/PASS {2}terminal: firmware \S+, serial ST-CLI-01, protocol 1/);
    for (const n of [1, 2, 3, 4, 5]) {
      expect(stdout).toContain(`PASS  button-${n}:`);
      expect(stdout).toContain(`PASS  led-${n}: LED ${n} lit alone`);
    }
    expect(stdout).toContain('PASS  buzzer: buzzer heard');
    expect(stdout).toContain('SKIP  printer: no printer configured');
    expect(stdout).toMatch(/PASS {2}province: test record \S+ acknowledged \(accepted\)/);
    expect(stdout).toContain('Self-test PASSED: 13 passed, 0 failed, 1 skipped');
    expect(code).toBe(0);
    expect(rig.province.records().filter((r) => r.kind === 'event' && r.type === 'selftest' && r.test)).toHaveLength(1);
  });

  it('refuses to run while the bridge service answers on its port', async () => {
    const port = await freePort();
    const service = createServer((_req, res) => res.end('{}')).listen(port, '127.0.0.1');
    try {
      const run = await hcp(['selftest', '-c', await configFile('busy', port), '--unattended']);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/the bridge service answers on http:\/\/127\.0\.0\.1:\d+: stop it first \(sudo systemctl stop hcp-bridge\)/);
    } finally {
      service.close();
    }
  });
});
