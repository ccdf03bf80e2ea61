import { EventEmitter } from 'node:events';
import type mqtt from 'mqtt';
import { describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../bridge/config.js';
import { registerWithProvince } from '../../bridge/provision/register.js';
import { ManualTimers } from '../support/manual-timers.js';

/** The province's one-shot answer to a registration, waited for on manual timers. */
const config = parseConfig({
  terminal: { id: 'T-330106-A03', areaCode: '330106', hallCode: 'XH-01', windowNo: 'A03' },
  serial: { path: '/dev/ttyUSB0' },
  mqtt: { url: 'mqtt://province.example:1883' },
  database: { path: '/var/lib/hcp/hcp.db' },
});
const registration = { at: '2026-03-02T08:00:00.000Z', publicKey: 'k'.repeat(60), areaCode: '330106', hallCode: 'XH-01', windowNo: 'A03', bridge: '1.0.0' };

/** A broker that takes the birth and, when asked, answers with the province's config. */
class FakeBroker extends EventEmitter {
  readonly published: Array<{ topic: string; retain: boolean }> = [];
  ended = false;
  subscribeAsync = async (): Promise<void> => {};
  publishAsync = async (topic: string, _payload: string, options: { retain: boolean }): Promise<void> => {
    this.published.push({ topic, retain: options.retain });
  };
  endAsync = async (): Promise<void> => {
    this.ended = true;
  };
  sendConfig(config: unknown): void {
    this.emit('message', 'hcp/v1/T-330106-A03/config', Buffer.from(JSON.stringify(config)));
  }
}

function start(timeoutMs: number) {
  const broker = new FakeBroker();
  const timers = new ManualTimers();
  const armed = vi.spyOn(timers, 'setTimeout');
  const connect = (async () => broker) as unknown as typeof mqtt.connectAsync;
  const outcome = registerWithProvince(config, registration, timeoutMs, { connect, timers });
  /** Lets the connect, subscribe and birth settle, so the wait is armed. */
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  return { broker, timers, armed, outcome, settle };
}

describe('registerWithProvince', () => {
  it('publishes the retained birth and gives up when no config comes within the timeout', async () => {
    const { broker, timers, outcome, settle } = start(5000);
    await settle();
    expect(broker.published).toEqual([{ topic: 'hcp/v1/T-330106-A03/state', retain: true }]);
    timers.advance(4999);
    await settle();
    expect(broker.ended).toBe(false);
    timers.advance(1);
    expect(await outcome).toMatchObject({ ok: false, reason: expect.stringMatching(/no config on hcp\/v1\/T-330106-A03\/config within 5 s/) });
    expect(broker.ended).toBe(true);
  });

  it('takes the config when it comes, timed on its timers, and clears the wait', async () => {
    const { broker, timers, armed, outcome, settle } = start(5000);
    await settle();
    timers.advance(1200);
    broker.sendConfig({});
    expect(await outcome).toEqual({ ok: true, config: {}, waitedMs: 1200 });
    expect(timers.cancel(armed.mock.results[0]?.value)).toBe(false);
    expect(broker.ended).toBe(true);
  });
});
