import { repeat } from '../../protocol/timers.js';
import type { BridgeStatus } from '../status/status.js';
import type { Feature, FeatureContext } from './feature.js';

/** The periodic health report on `…/telemetry`: on every connection, then every mqtt.telemetrySeconds. */
export class Telemetry implements Feature {
  private stopRepeating: (() => void) | undefined;

  constructor(private readonly ctx: Pick<FeatureContext, 'events' | 'timers' | 'clock' | 'config' | 'status' | 'uplink'>) {}

  start(): void {
    this.ctx.events.on('broker', this.onBroker);
    this.stopRepeating = repeat(this.ctx.timers, this.ctx.config.mqtt.telemetrySeconds * 1000, this.send);
  }

  stop(): void {
    this.ctx.events.off('broker', this.onBroker);
    this.stopRepeating?.();
  }

  private readonly onBroker = (state: 'connected' | 'disconnected'): void => {
    if (state === 'connected') this.send();
  };

  private readonly send = (): void => {
    this.ctx.uplink.telemetry({ at: this.ctx.clock.now().toISOString(), ...telemetryReport(this.ctx.status()) });
  };
}

/** The part of the status worth sending every minute from thousands of terminals. */
export function telemetryReport(s: BridgeStatus): object {
  return {
    alarms: s.alarms,
    backlog: { pending: s.backlog.pending, quarantined: s.backlog.quarantined, oldestPendingAgeMs: s.backlog.oldestPendingAgeMs },
    link: { alive: s.link.alive, portOpen: s.link.portOpen, serial: s.link.terminal?.serial ?? null, fw: s.link.terminal?.fw ?? null, rejectedFrames: s.link.counters.rejected },
    // unexpectedAcks: acks naming what this terminal never sent, a sign of a confused or hostile sender.
    uplink: { inflight: s.broker.inflight, backlogToDrain: s.broker.backlogToDrain, heldForClock: s.broker.heldForClock, unexpectedAcks: s.broker.unexpectedAcks },
    clock: { synced: s.clock.synced, trustedFrom: s.clock.trustedFrom },
    storage: s.storage,
    printer: s.printer.configured ? { condition: s.printer.condition, pending: s.printer.pending, printed: s.printer.printed } : null,
  };
}
