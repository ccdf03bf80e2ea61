import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../bridge/config.js';
import { silentLogger } from '../../bridge/log.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { answerTimeProbe } from '../../gateway/ingest/time-probes.js';
import { parseRosterText } from '../../gateway/registry/roster-file.js';

/**
 * The gateway's inputs that are not records: its config file, the roster file, and time probes
 * on `…/time`. Hostile or random input is refused with a ConfigError naming what and where (the
 * files), or left unanswered (probes); nothing else is ever thrown.
 */
const SEED = 20261130;
const hostileKey = fc.constantFrom('__proto__', 'constructor', 'mqtt', 'database', 'url', 'urlFile', 'dataDir', 'sharedGroup', 'terminals', 'approval', 'http', 'port', 'instance', 'terminalId', 'publicKey', 'ingest', 'verifyThread');
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 30 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(hostileKey, fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** A config close to a valid one, with any part replaced by anything. */
const nearConfig = fc
  .record({
    mqtt: fc.oneof(fc.constant({ url: 'mqtt://127.0.0.1:1883' }), anyValue, fc.record({ url: anyValue, sharedGroup: anyValue, protocolVersion: anyValue })),
    database: fc.oneof(fc.constant({ dataDir: '/var/lib/hcp-gateway/db' }), anyValue, fc.record({ url: fc.oneof(fc.string(), fc.constantFrom('postgres://gw:hunter2@db/hcp', 'postgresql://:hunter2@db', 'postgres://gw:hunter2@')), urlFile: anyValue })),
    instance: anyValue,
    terminals: fc.oneof(anyValue, fc.record({ approval: anyValue, config: anyValue })),
    // The ingest settings, each valid or anything (verifyThread: a boolean, nothing else).
    ingest: fc.oneof(anyValue, fc.record({ maxBatch: fc.oneof(fc.constant(500), anyValue), concurrency: fc.oneof(fc.constant(3), anyValue), verifyThread: fc.oneof(fc.boolean(), anyValue) }, { requiredKeys: [] })),
    http: anyValue,
  }, { requiredKeys: [] });

describe('gateway config and roster, fuzzed', () => {
  it('a config is parsed or refused with a ConfigError naming its fields, never a password', () => {
    fc.assert(
      fc.property(fc.oneof(anyValue, nearConfig), (input) => {
        try {
          parseGatewayConfig(input);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          const { problems } = err as ConfigError;
          expect(problems.length).toBeGreaterThan(0);
          for (const problem of problems) expect(problem).toMatch(/^([\w.-]+|\(top level\)): |^and \d+ more$/);
          expect((err as Error).message).not.toContain('hunter2');
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('ingest.verifyThread: true by default, a boolean kept, anything else refused naming it', () => {
    const base = { mqtt: { url: 'mqtt://127.0.0.1:1883' }, database: { dataDir: '/var/lib/hcp-gateway/db' } };
    expect(parseGatewayConfig(base).ingest.verifyThread).toBe(true);
    fc.assert(
      fc.property(anyValue, (value) => {
        if (typeof value === 'boolean') {
          expect(parseGatewayConfig({ ...base, ingest: { verifyThread: value } }).ingest.verifyThread).toBe(value);
          return;
        }
        expect(() => parseGatewayConfig({ ...base, ingest: { verifyThread: value } })).toThrow(/ingest\.verifyThread: /);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('a roster file is read or refused with a ConfigError, whatever its text', () => {
    const yamlish = fc.oneof(
      fc.string({ maxLength: 200 }),
      anyValue.map((v) => JSON.stringify(v) ?? ''),
      fc.array(fc.record({ terminalId: anyValue, publicKey: anyValue, areaCode: anyValue }, { requiredKeys: [] }), { maxLength: 4 }).map((terminals) => JSON.stringify({ terminals })),
      fc.constantFrom('terminals: [', 'terminals:\n  - terminalId: T-1\n    terminalId: T-2\n', '&a [*a]', '!!js/function "x"', 'terminals: !!binary AAAA'),
    );
    fc.assert(
      fc.property(yamlish, (text) => {
        try {
          const entries = parseRosterText(text, 'roster file r.yaml');
          expect(Array.isArray(entries)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          expect((err as Error).message).toContain('roster file r.yaml');
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('a time probe is answered only as {"probe": id} on a terminal\'s own topic, on its own acks; anything else is left unanswered', async () => {
    const topic = fc.oneof(fc.constantFrom('hcp/v1/T-1/time', 'hcp/v1/T-2/time'), fc.constantFrom('hcp/v1/+/time', 'hcp/v1//time', 'hcp/v1/T-1/time/x', 'other/T-1/time', 'hcp/v1/a b/time'), fc.string({ maxLength: 30 }));
    const payload = fc.oneof(
      fc.string({ minLength: 1, maxLength: 64 }).map((probe) => JSON.stringify({ probe })),
      anyValue.map((v) => JSON.stringify(v) ?? ''),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(topic, payload, async (t, p) => {
        const published: { topic: string; payload: string }[] = [];
        const deps = { publisher: { publish: async (to: string, body: string) => void published.push({ topic: to, payload: body }) }, prefix: 'hcp/v1', clock: { now: () => new Date('2026-11-30T00:00:00Z') }, logger: silentLogger };
        const outcome = await answerTimeProbe(deps, t, Buffer.from(p, 'utf8'));
        if (outcome !== 'answered') {
          expect(published).toEqual([]);
          return;
        }
        expect(published).toHaveLength(1);
        expect(published[0]!.topic).toBe(t.replace(/\/time$/, '/acks'));
        const ack = JSON.parse(published[0]!.payload) as { ids: string[]; status: string; serverTime: string };
        expect(ack).toEqual({ ids: [(JSON.parse(p) as { probe: string }).probe], status: 'accepted', serverTime: '2026-11-30T00:00:00.000Z' });
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
