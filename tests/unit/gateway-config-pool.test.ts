import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../bridge/config.js';
import { parseGatewayConfig } from '../../gateway/config.js';

const mqtt = { url: 'mqtt://127.0.0.1:1883' };

function problems(input: unknown): string[] {
  try {
    parseGatewayConfig(input);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
}

describe('gateway config: the PostgreSQL pool and the ingest lanes', () => {
  it('a pool no larger than ingest.concurrency is refused, saying which to change', () => {
    expect(problems({ mqtt, database: { url: 'postgres://hcp@db/hcp', poolSize: 3 }, ingest: { concurrency: 3 } })).toEqual([
      expect.stringMatching(/^database\.poolSize: 3 connections leave none beside the 3 that ingest\.concurrency holds .*make poolSize at least 4, or lower ingest\.concurrency$/),
    ]);
    expect(problems({ mqtt, database: { urlFile: '/etc/hcp/db-url', poolSize: 2 } })).toEqual([expect.stringContaining('make poolSize at least 4')]);
  });

  it('one more connection than lanes is enough; the defaults pass; PGlite (one lane) has no pool to check', () => {
    expect(problems({ mqtt, database: { url: 'postgres://hcp@db/hcp', poolSize: 4 }, ingest: { concurrency: 3 } })).toEqual([]);
    expect(problems({ mqtt, database: { url: 'postgres://hcp@db/hcp' } })).toEqual([]);
    expect(problems({ mqtt, database: { dataDir: '/var/lib/hcp', poolSize: 1 }, ingest: { concurrency: 4 } })).toEqual([]);
  });
});
