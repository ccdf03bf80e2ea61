import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ProvinceEmulator } from '../../simulator/province.js';
import { BROKERS, type TestBroker } from './brokers.js';

export interface BrokerAndProvince {
  broker: TestBroker;
  province: ProvinceEmulator;
  /** A temporary folder for the file's databases, removed at the end. */
  dir: string;
  /** Undone after each test, newest first. */
  cleanups: Array<() => Promise<unknown>>;
}

/**
 * For a test file: an embedded broker, a province emulator on it and a temporary folder, for the
 * whole file; what a test pushes on `cleanups` is undone after it. Read the fields inside tests.
 */
export function useBrokerAndProvince(folderPrefix: string): BrokerAndProvince {
  const env = { cleanups: [] } as unknown as BrokerAndProvince;
  beforeAll(async () => {
    const embedded = BROKERS.find((b) => b.name === 'embedded');
    if (!embedded) throw new Error('no embedded broker kind');
    env.broker = await embedded.start();
    env.province = await ProvinceEmulator.start({ url: env.broker.url });
    env.dir = mkdtempSync(join(tmpdir(), folderPrefix));
  });
  afterEach(async () => {
    for (const cleanup of env.cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await env.province?.stop();
    await env.broker?.stop();
    if (env.dir) rmSync(env.dir, { recursive: true, force: true });
  });
  return env;
}
