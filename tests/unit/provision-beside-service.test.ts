import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { StatusFetch } from '../../bridge/diagnose/running-service.js';
import { provisionCommand } from '../../cli/provision.js';

/**
 * `hcp provision --force` on a Pi whose service still runs: registering would connect with the
 * terminal's account a second time and, where the broker binds the client id to the account,
 * throw the service off. Provision asks the service first and then does not connect.
 */
const dir = mkdtempSync(join(tmpdir(), 'hcp-provision-beside-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const answers = {
  'terminal-id': 'T-BESIDE-1',
  'area-code': '330106',
  'hall-code': 'H',
  window: '1',
  // Nothing listens here: a registration attempt would fail loudly ("unreachable"), not hang.
  'broker-url': 'mqtts://127.0.0.1:1',
  'serial-path': '/dev/ttyACM0',
  database: join(dir, 'data', 'hcp.db'),
};

describe('provision beside a running service', () => {
  it('writes the config but does not register, saying why and what to do (exit 3)', async () => {
    const running: StatusFetch = async () => ({ status: 200, json: async () => ({ terminal: { id: 'T-BESIDE-1' }, broker: { connected: true, url: 'mqtts://127.0.0.1:1' } }) });
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((text: string) => void printed.push(text));
    const config = join(dir, 'etc', 'bridge.yaml');
    await provisionCommand({ config, interactive: false, register: true, registerTimeoutSeconds: 1, answers, env: {}, statusFetch: running });
    const report = printed.join('\n');
    expect(report).toContain("province    NOT contacted: this terminal's service is running (http://127.0.0.1:8080), and registering with its account would throw it off the broker");
    expect(report).toContain('fix: `sudo systemctl restart hcp-bridge`');
    expect(report).not.toContain('unreachable');
    expect(existsSync(config)).toBe(true);
    expect(process.exitCode).toBe(3);
  });

  it('with nothing running, registers as before (here: the broker is unreachable, said so)', async () => {
    const refused: StatusFetch = async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    };
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((text: string) => void printed.push(text));
    await provisionCommand({ config: join(dir, 'etc2', 'bridge.yaml'), interactive: false, register: true, registerTimeoutSeconds: 1, answers, env: {}, statusFetch: refused });
    expect(printed.join('\n')).toContain('NOT registered: mqtts://127.0.0.1:1 is unreachable');
    expect(process.exitCode).toBe(3);
  });
});
