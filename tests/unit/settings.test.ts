import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bridgeConfigSchema } from '../../bridge/config.js';
import { REMOTE_LOG_LEVELS, remoteConfigChangesSchema } from '../../protocol/commands.js';
import { SETTINGS } from '../../protocol/settings.js';

const base = {
  terminal: { id: 'T-330106-A03', areaCode: '330106', hallCode: 'XH-01', windowNo: 'A03' },
  serial: { path: '/dev/ttyUSB0' },
  mqtt: { url: 'mqtts://province.example:8883' },
  database: { path: '/var/lib/hcp/hcp.db' },
  printer: { path: '/dev/ttyUSB1', evaluationUrl: 'https://hcp.province.example/rate' },
};

/** Every setting the province may change, as [section, key], read from the command's own schema. */
const remoteSettings = Object.entries(remoteConfigChangesSchema.shape).flatMap(([section, schema]) =>
  Object.keys(schema.unwrap().shape).map((key) => [section, key] as const),
);

/** The config with one setting replaced. */
function configWith(section: string, key: string, value: unknown): unknown {
  const sections = base as Record<string, object | undefined>;
  return { ...base, [section]: { ...sections[section], [key]: value } };
}

/** Where the remote change is narrower on purpose: what it takes of the values the file takes. */
const REMOTE_ONLY: Record<string, (value: unknown) => boolean> = {
  // A level that hides warnings and errors is set on site only.
  'log.level': (value) => (REMOTE_LOG_LEVELS as readonly unknown[]).includes(value),
};

function enumOptions(setting: { unwrap(): unknown }): unknown[] {
  const inner = setting.unwrap();
  return inner instanceof z.ZodEnum ? inner.options : [];
}

/** Values near every range and in every enum of the settings, and anything else JSON can say. */
const values = fc.oneof(
  fc.double(),
  fc.integer({ min: -5, max: 100_000 }),
  fc.constantFrom(-1, 0, 0.05, 0.1, 1, 2, 50, 119, 120, 121, 600, 601, 3600, 10_000, 86_400, 86_401),
  fc.constantFrom(...Object.values(SETTINGS).flatMap((section) => Object.values(section).flatMap(enumOptions))),
  fc.string(),
  fc.jsonValue(),
);

describe('settings: one definition for the config file and the remote update-config', () => {
  it('finds the settings the province may change (the checks below are not vacuous)', () => {
    expect(remoteSettings.length).toBeGreaterThan(0);
  });

  it.each(remoteSettings)('%s.%s: the remote change accepts a value exactly when the config file does in that place (less the remote-only rules)', (section, key) => {
    fc.assert(
      fc.property(values, (value) => {
        const remote = remoteConfigChangesSchema.safeParse({ [section]: { [key]: value } }).success;
        const config = bridgeConfigSchema.safeParse(configWith(section, key, value)).success;
        expect(remote).toBe(config && (REMOTE_ONLY[`${section}.${key}`]?.(value) ?? true));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the config file each default, and the remote change none', () => {
    const config = bridgeConfigSchema.parse(base);
    expect(config.invitation.timeoutSeconds).toBe(30);
    expect(config.invitation.flags.burstCount).toBe(5);
    expect(config.mqtt.recordFormat).toBe('v2');
    expect(config.printer?.pollSeconds).toBe(10);
    expect(config.clock).toEqual({ trust: 'ntp', holdUnsyncedSeconds: 300, ntpPollSeconds: 30 });
    expect(remoteConfigChangesSchema.parse({ invitation: { timeoutSeconds: 45 } })).toEqual({ invitation: { timeoutSeconds: 45 } });
  });
});
