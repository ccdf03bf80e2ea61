import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig } from '../../bridge/config.js';
import { hcp } from '../support/run-hcp.js';

/**
 * The bridge's config, fuzzed: random documents, random file bytes, and a sound config with one
 * place changed to anything. Invariants: only a ConfigError ever leaves (never a crash); each
 * problem says where (a dotted path) and what; a changed place that is refused is named; an
 * accepted config reads back the same from the file it would be written to. A few runs of the
 * real CLI check the exit code (2: the config is refused) and that nothing hangs.
 */
const SEED = 20261131;
const dir = mkdtempSync(join(tmpdir(), 'hcp-fuzz-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOUND = {
  terminal: { id: 'T-330106-A03', areaCode: '330106', hallCode: 'XH-01', hallName: '大厅', windowNo: 'A03' },
  serial: { path: '/dev/ttyUSB0', baudRate: 115200 },
  mqtt: {
    url: 'mqtts://province.example:8883',
    username: 'u',
    passwordFile: '/etc/hcp/mqtt.password',
    probe: { username: 'probe', passwordFile: '/etc/hcp/probe.password' },
    tls: { ca: '/etc/hcp/ca.pem' },
    telemetrySeconds: 60,
    inflight: 64,
  },
  database: { path: '/var/lib/hcp/hcp.db', maxSizeMB: 512, retainAckedDays: 30 },
  printer: { path: 'tcp://10.0.0.9:9100', evaluationUrl: 'https://hcp.example/rate', pollSeconds: 10, profile: { columns: 32 } },
  http: {
    host: '127.0.0.1',
    port: 8080,
    allowedHosts: ['window3.hall.local'],
    businessTokenFile: '/etc/hcp/business.token',
    technicianTokenFile: '/etc/hcp/technician.token',
    allowUnverifiedStaff: false,
  },
  invitation: { timeoutSeconds: 30, reasonTimeoutSeconds: 15, flags: { minPressMs: 800, burstCount: 5 } },
  clock: { trust: 'ntp', holdUnsyncedSeconds: 300 },
  log: { level: 'info' },
};

/** Every place in the sound config, as a path. */
function places(value: unknown, path: string[] = []): string[][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [path];
  return [path, ...Object.entries(value).flatMap(([key, inner]) => places(inner, [...path, key]))].filter((p) => p.length > 0);
}
const PLACES = places(SOUND);

/** Anything, and the values that sit near what the schema takes. */
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(0, -1, 1.5, 16.1, 1e9, 3e6, 2 ** 31, -0, '', ' ', ':memory:', '/dev/zero', 'tcp://x', 'mqtt://', '0.0.0.0', '::', 'x'.repeat(300)),
  fc.double(),
  fc.integer(),
  fc.constant(undefined),
);

function withPlace(path: string[], value: unknown): unknown {
  const copy = structuredClone(SOUND) as Record<string, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path.at(-1)!] = value;
  return copy;
}

/** A problem line: `dotted.path: what`, or the count of those left out. */
const PROBLEM = /^(?<where>[\w.]+): \S.*$|^and \d+ more$/s;

function problemsOf(input: unknown): string[] | undefined {
  try {
    parseConfig(input);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
}

describe('config, fuzzed', () => {
  it('the sound config is taken', () => {
    expect(problemsOf(SOUND)).toBeUndefined();
  });

  it('any document: taken, or refused with where and what, never a crash', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue(), fc.record({ terminal: anyValue, mqtt: anyValue, database: anyValue, serial: anyValue })), (doc) => {
        const problems = problemsOf(doc);
        if (!problems) return;
        expect(problems.length).toBeGreaterThan(0);
        for (const line of problems) expect(line).toMatch(/^([\w.]+|\(top level\)): \S|^and \d+ more$/s);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('one place changed to anything: refused naming that place, or taken and read back the same from its file', () => {
    const file = join(dir, 'bridge.yaml');
    fc.assert(
      fc.property(fc.constantFrom(...PLACES), anyValue, (path, value) => {
        const doc = withPlace(path, value);
        const problems = problemsOf(doc);
        if (problems) {
          const where = problems.map((line) => PROBLEM.exec(line)?.groups?.where ?? '');
          const changed = path.join('.');
          const section = path.slice(0, -1).join('.');
          // The place itself, a place inside it, or in the section holding it (a rule across its fields: http.host needs http.token).
          expect(where.some((w) => w === changed || w.startsWith(`${changed}.`) || w === section || w.startsWith(`${section}.`)), `${changed}: ${problems.join('; ')}`).toBe(true);
          return;
        }
        writeFileSync(file, stringify(doc));
        expect(loadConfigFile(file)).toEqual(parseConfig(doc));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('a password given both inline and as a file is refused, naming passwordFile (the broker account and the probe account)', () => {
    // eslint-disable-next-line no-control-regex
    const printable = fc.string({ minLength: 1, maxLength: 40 }).filter((password) => !/[\u0000-\u001f\u007f]/.test(password));
    const file = fc.string({ minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(fc.boolean(), printable, file, (probe, password, passwordFile) => {
        const doc = probe
          ? withPlace(['mqtt', 'probe'], { username: 'probe', password, passwordFile })
          : withPlace(['mqtt'], { ...SOUND.mqtt, password, passwordFile });
        const problems = problemsOf(doc);
        const where = probe ? 'mqtt.probe.passwordFile' : 'mqtt.passwordFile';
        expect(problems, `${where}: ${JSON.stringify({ password, passwordFile })}`).toBeDefined();
        expect(problems!.some((line) => line.startsWith(`${where}: `) && /not both/.test(line)), problems!.join('; ')).toBe(true);
        // Either one alone is taken.
        expect(problemsOf(probe ? withPlace(['mqtt', 'probe'], { username: 'probe', password }) : withPlace(['mqtt'], { ...SOUND.mqtt, password, passwordFile: undefined }))).toBeUndefined();
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('any bytes as the file: a ConfigError naming the file, never a crash', () => {
    const file = join(dir, 'random.yaml');
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 300 }).map((s) => Buffer.from(s))), (bytes) => {
        writeFileSync(file, bytes);
        try {
          loadConfigFile(file);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          expect((err as Error).message).toContain(file);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('hcp refuses with exit 2 and the reason, never a hang or a stack trace', () => {
  const configWith = (change: object): string => {
    const file = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, stringify({ ...SOUND, printer: undefined, serial: { path: '/dev/hcp-no-such-port' }, database: { path: join(dir, 'hcp.db') }, ...change }));
    return file;
  };

  it.each([
    ['run', ['--config', '/dev/zero'], /\/dev\/zero is not a regular file/],
    ['doctor', ['--config', '/dev/zero'], /\/dev\/zero is not a regular file/],
    ['run', ['--config', 'MAKE:{"database":{"path":":memory:"}}'], /database\.path: expected a file/],
    ['run', ['--config', 'MAKE:{"http":{"host":"192.0.2.1","port":0,"token":"a-token-of-sixteen-chars"},"mqtt":{"url":"mqtt://127.0.0.1:1"}}'], /http\.host: this machine has no address 192\.0\.2\.1/],
  ])('hcp %s %j', async (command, args, reason) => {
    const resolved = args.map((arg) => (arg.startsWith('MAKE:') ? configWith(JSON.parse(arg.slice(5)) as object) : arg));
    const run = await hcp([command, ...resolved], 30_000);
    const said = run.stdout + run.stderr;
    expect(said).toMatch(reason);
    expect(said).not.toMatch(/^\s+at /m);
    if (command === 'run') expect(run.code).toBe(2);
    else expect(run.code).not.toBe(0);
  });
});
