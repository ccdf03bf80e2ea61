import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../bridge/config.js';
import { brokerConnection } from '../../bridge/uplink/mqtt-options.js';

/** mqtt.passwordFile (what `hcp provision` writes): read when the bridge builds a connection, refused with the setting named. */
const dir = mkdtempSync(join(tmpdir(), 'hcp-mqtt-password-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

const config = (mqtt: Record<string, unknown>) =>
  parseConfig({
    terminal: { id: 'T-PW-1', areaCode: '330106', hallCode: 'H', windowNo: '1' },
    serial: { path: '/dev/ttyACM0' },
    mqtt: { url: 'mqtts://b.example:8883', username: 'T-PW-1', ...mqtt },
    database: { path: '/var/lib/hcp/hcp.db' },
  });

describe('mqtt.passwordFile', () => {
  it('is read (less its final line break) for the service and for doctor’s own account', () => {
    const cfg = config({ passwordFile: file('pw', 'from-file\n'), probe: { username: 'doc', passwordFile: file('doc-pw', 'doctor-file') } });
    expect(brokerConnection(cfg, 'service').options.password).toBe('from-file');
    expect(brokerConnection(cfg, 'probe').options).toMatchObject({ username: 'doc', password: 'doctor-file' });
  });

  it('refuses a file other users may read, a missing file and a password that is not one line, naming the setting and never the password', () => {
    const cases = [
      config({ passwordFile: file('open', 'readable-secret', 0o644) }),
      config({ passwordFile: join(dir, 'missing') }),
      config({ passwordFile: file('two-lines', 'line-one-secret\nline-two\n') }),
    ];
    const messages = cases.map((cfg) => {
      try {
        brokerConnection(cfg, 'service');
        return 'accepted';
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
    });
    expect(messages[0]).toMatch(/^mqtt\.passwordFile: cannot use .*open: other users may read it: chmod 600 it/);
    expect(messages[1]).toMatch(/^mqtt\.passwordFile: cannot use .*missing: ENOENT/);
    expect(messages[2]).toMatch(/^mqtt\.passwordFile: the password in .*two-lines contains a control character/);
    expect(messages.join('\n')).not.toMatch(/readable-secret|line-one-secret/);
  });

  it('is given instead of an inline password, not beside it', () => {
    expect(() => config({ password: 'inline', passwordFile: '/etc/hcp/mqtt-password' })).toThrow(/mqtt\.passwordFile: give password or passwordFile, not both/);
    expect(() => config({ probe: { username: 'doc', password: 'inline', passwordFile: '/x' } })).toThrow(/mqtt\.probe\.passwordFile: give password or passwordFile, not both/);
  });
});
