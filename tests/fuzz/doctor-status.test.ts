import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../bridge/config.js';
import { askRunningService, type StatusFetch } from '../../bridge/diagnose/running-service.js';

/**
 * What doctor reads from whatever answers on the bridge's HTTP port (the bridge, an older bridge,
 * another program, a hostile one): any status code, any JSON or none. Invariants: it never throws;
 * "running" only for a well-formed status of this very terminal; "not running" (doctor may then
 * connect with the terminal's account) only when nothing listens.
 */
const config = parseConfig({
  terminal: { id: 'T-FUZZ-1', areaCode: '330106', hallCode: 'H', windowNo: '1' },
  serial: { path: '/dev/ttyACM0' },
  mqtt: { url: 'mqtts://b.example:8883' },
  database: { path: '/var/lib/hcp/hcp.db' },
});

const statusLike = fc.record(
  {
    terminal: fc.oneof(fc.record({ id: fc.constantFrom('T-FUZZ-1', 'T-OTHER', '') }), fc.anything()),
    broker: fc.oneof(fc.record({ connected: fc.boolean(), url: fc.string() }), fc.record({ connected: fc.anything(), url: fc.anything() }), fc.anything()),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(statusLike, fc.anything(), fc.jsonValue());
type Reply = { kind: 'json'; status: number; body: unknown } | { kind: 'not-json'; status: number } | { kind: 'throws'; code: string | undefined };
const reply: fc.Arbitrary<Reply> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('json' as const), status: fc.oneof(fc.constant(200), fc.integer({ min: 100, max: 599 })), body }) },
  fc.record({ kind: fc.constant('not-json' as const), status: fc.constant(200) }),
  fc.record({ kind: fc.constant('throws' as const), code: fc.constantFrom('ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', undefined) }),
);

function fetchFor(r: Reply): StatusFetch {
  return async () => {
    if (r.kind === 'throws') throw Object.assign(new TypeError('fetch failed'), r.code ? { cause: { code: r.code } } : {});
    return {
      status: r.status,
      json: async () => {
        if (r.kind === 'not-json') throw new SyntaxError('Unexpected token < in JSON');
        return r.body;
      },
    };
  };
}

describe('doctor reading the running service, fuzzed', () => {
  it('never throws; running only for this terminal’s well-formed status; not running only when nothing listens', async () => {
    await fc.assert(
      fc.asyncProperty(reply, async (r) => {
        const answer = await askRunningService(config, { fetch: fetchFor(r), timeoutMs: 100 });
        const b = r.kind === 'json' ? (r.body as { terminal?: { id?: unknown }; broker?: { connected?: unknown; url?: unknown } } | null) : null;
        const wellFormed =
          r.kind === 'json' &&
          r.status === 200 &&
          typeof b === 'object' &&
          b !== null &&
          b.terminal?.id === 'T-FUZZ-1' &&
          typeof b.broker?.connected === 'boolean' &&
          typeof b.broker.url === 'string';
        expect(answer.running === true).toBe(wellFormed);
        expect(answer.running === false).toBe(r.kind === 'throws' && r.code === 'ECONNREFUSED');
        if (answer.running === 'unknown') expect(answer.why.length).toBeGreaterThan(0);
      }),
      { seed: 20261207, numRuns: 1000 },
    );
  });
});
