import { silentLogger } from '../../bridge/log.js';
import type { Outbox } from '../../bridge/store/outbox.js';
import type { TimeKeeper } from '../../bridge/time/time-keeper.js';
import type { UplinkOptions } from '../../bridge/uplink/uplink.js';
import type { ManualTimers } from './manual-timers.js';
import type { TerminalIdentity } from '../../bridge/identity/terminal-key.js';

/**
 * An uplink for terminal T-1 on manual timers, signing with `identity` (its `connect` given by
 * the test): layout v1 unless `overrides` say otherwise, no jitter (each reconnect delay is half
 * its ceiling), no pacing.
 */
export function uplinkOptions(
  parts: { outbox: Outbox; clock: TimeKeeper; timers: ManualTimers; identity: TerminalIdentity },
  overrides: Partial<UplinkOptions> = {},
): Omit<UplinkOptions, 'connect'> {
  return {
    broker: { url: 'mqtt://broker.test', options: {} },
    terminalId: 'T-1',
    topicPrefix: 'hcp/v1',
    gradeProfile: 'provincial-5-high',
    recordFormat: 'v1',
    inflight: 100,
    ackTimeoutMs: 2000,
    drainRatePerSecond: 0,
    holdUnsyncedMs: 0,
    reconnect: { minMs: 1000, maxMs: 8000 },
    outbox: parts.outbox,
    clock: parts.clock,
    timers: parts.timers,
    random: () => 0,
    logger: silentLogger,
    versions: {},
    sign: parts.identity.sign,
    publicKey: parts.identity.publicKey,
    ...overrides,
  };
}
