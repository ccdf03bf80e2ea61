import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig } from '../../bridge/config.js';

const valid = {
  terminal: { id: 'T-330106-A03', areaCode: '330106', hallCode: 'XH-01', windowNo: 'A03' },
  serial: { path: '/dev/ttyUSB0' },
  mqtt: { url: 'mqtts://province.example:8883' },
  database: { path: '/var/lib/hcp/hcp.db' },
};

const dir = mkdtempSync(join(tmpdir(), 'hcp-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('bridge config', () => {
  it('fills defaults for what may be left out', () => {
    const config = parseConfig(valid);
    expect(config.serial.baudRate).toBe(115200);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.mqtt.gradeProfile).toBe('provincial-5-high');
    expect(config.invitation.timeoutSeconds).toBe(30);
  });

  it('names the field and what is expected for each bad value', () => {
    expect(problemsOf({ ...valid, terminal: { ...valid.terminal, areaCode: '33010' } })).toEqual([
      'terminal.areaCode: administrative area code (行政区划代码) must be 6 digits',
    ]);
    expect(problemsOf({ ...valid, mqtt: { url: 'http://x' } })[0]).toMatch(/^mqtt\.url: expected a broker URL/);
    expect(problemsOf({ ...valid, mqtt: { ...valid.mqtt, gradeProfile: 'reverse' } })[0]).toMatch(/^mqtt\.gradeProfile: /);
    expect(problemsOf({ ...valid, serial: {} })[0]).toMatch(/^serial\.path: /);
    expect(problemsOf({ ...valid, extra: 1 })[0]).toMatch(/extra/);
  });

  it('requires an API token when the API listens beyond localhost', () => {
    expect(problemsOf({ ...valid, http: { host: '0.0.0.0' } })).toEqual([
      'http.token: a token is required when the API listens beyond localhost: set http.token (16+ characters)',
    ]);
    expect(parseConfig({ ...valid, http: { host: '0.0.0.0', token: 'a-long-enough-token' } }).http.token).toBe('a-long-enough-token');
  });

  it('reports a file that is missing or not YAML, with its path', () => {
    expect(() => loadConfigFile(join(dir, 'none.yaml'))).toThrow(/cannot read config file .*none\.yaml/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'terminal: [unclosed');
    expect(() => loadConfigFile(bad)).toThrow(/is not valid YAML/);
    const wrong = join(dir, 'wrong.yaml');
    writeFileSync(wrong, 'terminal:\n  id: "has space"\n');
    expect(() => loadConfigFile(wrong)).toThrow(/config file .*wrong\.yaml is invalid:\n {2}- terminal\.id: terminal id/);
  });
});

describe('docs/bridge.example.yaml', () => {
  it('is a valid config', () => {
    const config = loadConfigFile(join(import.meta.dirname, '../../docs/bridge.example.yaml'));
    expect(config.terminal.areaCode).toBe('330106');
    expect(config.mqtt.gradeProfile).toBe('provincial-5-high');
  });
});
