import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../bridge/config.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { loadTerminalConfig } from '../../gateway/terminal-config.js';
import { SAMPLE_STAFF_ROSTER } from '../../simulator/sample-staff.js';

/** What the gateway publishes on every approved terminal's retained `…/config`, from its own config. */
const dir = mkdtempSync(join(tmpdir(), 'hcp-terminal-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const catalog = { version: '2026.11', reasons: [{ code: 'R01', label: '服务态度差' }] };
const configWith = (terminalConfig: Record<string, unknown>) =>
  parseGatewayConfig({ mqtt: { url: 'mqtt://127.0.0.1:1883' }, database: { dataDir: join(dir, 'db') }, terminals: { config: terminalConfig } });

describe('loadTerminalConfig', () => {
  it('is nothing when the gateway config names nothing to send', () => {
    expect(loadTerminalConfig(configWith({}))).toBeUndefined();
  });

  it('sends the reason catalogue, the staff roster read from its file, and the grade profile', () => {
    const staffRosterFile = join(dir, 'roster.yaml');
    writeFileSync(staffRosterFile, JSON.stringify(SAMPLE_STAFF_ROSTER));
    expect(loadTerminalConfig(configWith({ reasonCatalog: catalog, staffRosterFile, gradeProfile: 'gbt-39046' }))).toEqual({
      reasonCatalog: catalog,
      staffRoster: SAMPLE_STAFF_ROSTER,
      gradeProfile: 'gbt-39046',
    });
  });

  it('refuses a grade profile it does not know, naming the setting', () => {
    expect(() => configWith({ gradeProfile: 'reverse' })).toThrow(/terminals\.config\.gradeProfile: /);
  });

  it('refuses a missing or invalid roster file before anything is published, naming the field', () => {
    expect(() => loadTerminalConfig(configWith({ staffRosterFile: join(dir, 'none.yaml') }))).toThrow(ConfigError);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: "1"\nstaff: [{ staffId: S1, name: 张三 }]\n');
    expect(() => loadTerminalConfig(configWith({ staffRosterFile: bad }))).toThrow(/staff\.0\.pin: required/);
  });
});
