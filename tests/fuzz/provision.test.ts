import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { bridgeConfigSchema } from '../../bridge/config.js';
import { answerProblems, configFromAnswers, PROVISION_FIELDS, type Answers } from '../../bridge/provision/fields.js';
import { hcp } from '../support/run-hcp.js';

/**
 * `hcp provision`'s answers, fuzzed in-process (the CLI as a child process is slow): each flag
 * absent, empty, sound, near a rule, or anything. Invariants: every refusal names its flag;
 * provision refuses exactly what the bridge's config refuses, so it never writes a config that
 * `hcp run` would refuse. A few runs of the real CLI check the exit codes (2: no config written).
 */
const SEED = 20261132;
const dir = mkdtempSync(join(tmpdir(), 'hcp-fuzz-provision-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOUND: Answers = {
  'terminal-id': 'T-330106-A03',
  'area-code': '330106',
  'hall-code': 'XH-01',
  'hall-name': '大厅',
  window: 'A03',
  'broker-url': 'mqtts://broker.example:8883',
  username: 'hall',
  password: 'secret',
  'ca-file': '/etc/hcp/ca.pem',
  'cert-file': '/etc/hcp/client.pem',
  'key-file': '/etc/hcp/client.key',
  'board-path': '/dev/ttyACM1',
  buttons: '2,3,4,5,6',
  leds: '8,9,10,11,12',
  buzzer: '7',
  'gpio-chip': 'auto',
  'gpio-buttons': '5,6,16,20,21',
  'gpio-leds': '17,27,22,23,24',
  'gpio-buzzer': '18',
  'serial-path': '/dev/ttyACM0',
  database: '/var/lib/hcp/hcp.db',
  'printer-path': 'tcp://10.0.0.9:9100',
  'printer-columns': '48',
  'evaluation-url': 'https://hcp.example/rate',
};

const NEAR = ['', ' ', '0', '1', '2,3', '2,2,3,4,5', '0,1,2,3,4', '33010', 'http://x', 'mqtt://', ':memory:', '/dev/ttyACM0', 'tcp://h:0', '-1', '1e9', '99', 'x'.repeat(200)];
const answer = (flag: string): fc.Arbitrary<string | undefined> =>
  fc.oneof({ weight: 6, arbitrary: fc.constant(SOUND[flag]) }, fc.constant(undefined), fc.constantFrom(...NEAR), fc.string({ maxLength: 20 }));
const answers: fc.Arbitrary<Answers> = fc
  .record(Object.fromEntries(PROVISION_FIELDS.map((f) => [f.flag, answer(f.flag)])))
  .map((record) => Object.fromEntries(Object.entries(record).filter((entry): entry is [string, string] => entry[1] !== undefined)));

const FLAGS = new Set(PROVISION_FIELDS.map((f) => f.flag));
/** `--flag[, --flag]: what`, with only flags provision has. */
function namesFlags(line: string): boolean {
  const match = /^(--[a-z-]+(?:, --[a-z-]+)*): \S/s.exec(line);
  return match !== null && match[1]!.split(', ').every((flag) => FLAGS.has(flag.slice(2)));
}

describe('provision answers, fuzzed', () => {
  it('every refusal names its flag, and provision refuses exactly what the bridge config refuses', () => {
    fc.assert(
      fc.property(answers, (given) => {
        const problems = answerProblems(given);
        for (const line of problems) expect(namesFlags(line) || /^and \d+ more$/.test(line), line).toBe(true);
        expect(problems.length === 0, problems.join('; ')).toBe(bridgeConfigSchema.safeParse(configFromAnswers(given)).success);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('each answer checked alone (as it is typed) is refused only with its own flag', () => {
    fc.assert(
      fc.property(answers, fc.constantFrom(...PROVISION_FIELDS), (given, field) => {
        for (const line of answerProblems(given, field)) expect(line.startsWith(`--${field.flag}: `), line).toBe(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('hcp provision exit codes', () => {
  const flags = (overrides: Answers): string[] => {
    // No --password: provision refuses a password on the command line before anything else.
    const { 'board-path': _b, buttons: _p, leds: _l, buzzer: _z, 'cert-file': _c, 'key-file': _k, password: _w, ...rest } = SOUND;
    return Object.entries({ ...rest, database: join(dir, 'data', 'hcp.db'), ...overrides }).flatMap(([flag, value]) => [`--${flag}`, value]);
  };

  it('2 and no config written for a wrong answer; 2 when a config is there already', async () => {
    const config = join(dir, 'etc', 'bridge.yaml');
    const wrong = await hcp(['provision', '-c', config, '--non-interactive', '--no-register', ...flags({ database: ':memory:' })]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--database: expected a file/);
    expect(existsSync(config)).toBe(false);

    writeFileSync(join(dir, 'there.yaml'), '# a terminal provisioned before\n');
    const there = await hcp(['provision', '-c', join(dir, 'there.yaml'), '--non-interactive', '--no-register', ...flags({})]);
    expect(there.code).toBe(2);
    expect(there.stderr).toContain('provisioned already');
  });
});
