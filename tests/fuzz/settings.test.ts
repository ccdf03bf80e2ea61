import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Retention } from '../../bridge/features/retention.js';
import { silentLogger } from '../../bridge/log.js';
import { openDatabase } from '../../bridge/store/database.js';
import { Outbox } from '../../bridge/store/outbox.js';
import type { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { Backoff } from '../../bridge/uplink/backoff.js';
import { TokenBucket } from '../../bridge/uplink/token-bucket.js';
import type { FeatureContext } from '../../bridge/features/feature.js';
import { bridgeMessageSchema } from '../../protocol/serial-messages.js';
import { MAX_TIMER_MS, secondsToMs, SETTINGS } from '../../protocol/settings.js';
import { ManualTimers } from '../support/manual-timers.js';

/**
 * Every numeric setting, walked across the whole range its schema accepts, must work where it is
 * used: what the bridge hands the serial line, a timer, SQLite or a part is checked by that
 * receiver (its schema, or the part itself), not only parsed.
 */
const SEED = 11;
const DAY_MS = 24 * 60 * 60 * 1000;
const NOW = new Date('2026-03-02T01:00:00Z');
const { invitation, invitationFlags, mqtt, printer, database, clock } = SETTINGS;

/** A delay a timer keeps as given (Node runs a longer one after 1 ms). */
function timer(ms: number): void {
  expect(ms).toBeGreaterThanOrEqual(0);
  expect(ms).toBeLessThanOrEqual(MAX_TIMER_MS);
}

function invite(fields: { timeoutMs?: number; reasonTimeoutMs?: number }): void {
  const sent = { type: 'invite', seq: 1, inv: '019a0000-0000-7000-8000-000000000000', timeoutMs: 30_000, reasons: 3, ...fields };
  expect(bridgeMessageSchema.safeParse(sent).error).toBeUndefined();
}

const outbox = (): Outbox => new Outbox(openDatabase(':memory:'), { now: () => NOW, monoMs: () => 0, isSynced: () => true, bootId: 'b' });
/** The longest an invitation stays open: the desk's backstop timer, at the other settings' widest. */
const longestOpenMs = (graceSeconds: number): number =>
  secondsToMs(invitation.timeoutSeconds.unwrap().maxValue ?? 0) + secondsToMs(invitation.reasonTimeoutSeconds.unwrap().maxValue ?? 0) + secondsToMs(graceSeconds);

/** How each numeric setting is used, as the bridge uses it (bridge/bridge.ts and the parts it feeds). */
const USES: Record<string, (value: number) => void> = {
  'invitation.timeoutSeconds': (v) => invite({ timeoutMs: secondsToMs(v) }),
  'invitation.reasonTimeoutSeconds': (v) => invite({ reasonTimeoutMs: secondsToMs(v) }),
  'invitation.deviceGraceSeconds': (v) => timer(longestOpenMs(v)),
  // A press comes at the latest when the longest invitation times out; past that the flag means nothing.
  'invitationFlags.minPressMs': (v) => expect(v).toBeLessThanOrEqual(secondsToMs(invitation.timeoutSeconds.unwrap().maxValue ?? 0)),
  'invitationFlags.strayWindowSeconds': (v) => expect(new Date(NOW.getTime() - v * 1000).toISOString()).toMatch(/^\d{4}-/),
  'invitationFlags.burstCount': (v) => expect(outbox().latestRatings(v - 1)).toEqual([]),
  'invitationFlags.burstWindowMinutes': (v) => expect(new Date(NOW.getTime() - v * 60_000).toISOString()).toMatch(/^\d{4}-/),
  'mqtt.inflight': (v) => expect(Number.isSafeInteger(v) && v >= 1).toBe(true),
  'mqtt.ackTimeoutSeconds': (v) => timer(v * 1000),
  'mqtt.drainRatePerSecond': (v) => {
    const bucket = new TokenBucket(v, () => 0);
    bucket.take(Number.MAX_SAFE_INTEGER);
    timer(bucket.msUntilNext());
  },
  'mqtt.reconnectMinSeconds': (v) => {
    const backoff = new Backoff(v * 1000, (mqtt.reconnectMaxSeconds.unwrap().maxValue ?? 0) * 1000, () => 1);
    for (let i = 0; i < 64; i++) timer(backoff.next());
  },
  'mqtt.reconnectMaxSeconds': (v) => {
    const backoff = new Backoff((mqtt.reconnectMinSeconds.unwrap().minValue ?? 0) * 1000, v * 1000, () => 1);
    for (let i = 0; i < 64; i++) timer(backoff.next());
  },
  // MQTT carries the keepalive in 16 bits.
  'mqtt.keepaliveSeconds': (v) => expect(Number.isInteger(v) && v <= 65_535).toBe(true),
  'mqtt.telemetrySeconds': (v) => timer(v * 1000),
  'printer.statusTimeoutMs': (v) => timer(v),
  'printer.pollSeconds': (v) => timer(v * 1000),
  'database.maxSizeMB': (v) => expect(Number.isSafeInteger(Math.ceil(v * 1024 * 1024))).toBe(true),
  'database.retainAckedDays': (v) => {
    const timers = new ManualTimers();
    const config = { database: { retainAckedDays: v } } as FeatureContext['config'];
    const retention = new Retention({ outbox: outbox(), audit: { prune: () => 0 }, clock: { now: () => NOW } as TimeKeeper, timers, config, logger: silentLogger });
    retention.start();
    retention.stop();
    expect(new Date(NOW.getTime() - v * DAY_MS).toISOString()).toMatch(/^\d{4}-/);
  },
  'clock.holdUnsyncedSeconds': (v) => timer(v * 1000),
  'clock.ntpPollSeconds': (v) => timer(v * 1000),
};

/** Every numeric setting in protocol/settings.ts, as [section.key, its schema]. */
const numeric = Object.entries({ invitation, invitationFlags, mqtt, printer, database, clock }).flatMap(([section, settings]) =>
  Object.entries(settings).flatMap(([key, setting]) => {
    const inner = (setting as z.ZodDefault).unwrap();
    return inner instanceof z.ZodNumber ? [[`${section}.${key}`, inner] as const] : [];
  }),
);

/** Values across the accepted range: anywhere, whole and one-decimal values, and the bounds themselves. */
function across(schema: z.ZodNumber): fc.Arbitrary<number> {
  const min = schema.minValue ?? 0;
  const max = schema.maxValue ?? 0;
  return fc.oneof(
    fc.double({ min, max, noNaN: true }),
    fc.integer({ min: Math.ceil(min), max: Math.floor(max) }),
    fc.integer({ min: Math.ceil(min * 10), max: Math.floor(max * 10) }).map((tenths) => tenths / 10),
    fc.integer({ min: Math.ceil(min * 1000), max: Math.floor(max * 1000) }).map((ms) => ms / 1000),
    fc.constantFrom(min, max),
  );
}

describe('every numeric setting works by use across its whole range', () => {
  it('each numeric setting has a use here, and a finite range', () => {
    expect(numeric.map(([name]) => name).sort()).toEqual(Object.keys(USES).sort());
    for (const [name, schema] of numeric) {
      expect({ name, min: Number.isFinite(schema.minValue), max: Number.isFinite(schema.maxValue) }).toEqual({ name, min: true, max: true });
    }
  });

  it.each(numeric)('%s', (name, schema) => {
    const use = USES[name];
    if (!use) throw new Error(`${name} has no use in USES`);
    fc.assert(
      fc.property(across(schema), (value) => {
        fc.pre(schema.safeParse(value).success);
        use(value);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('16.1 s and 2.01 s, once refused by the terminal, reach it as whole milliseconds', () => {
    invite({ timeoutMs: secondsToMs(16.1), reasonTimeoutMs: secondsToMs(2.01) });
    expect(16.1 * 1000).not.toBe(secondsToMs(16.1));
  });
});
