import { TELEMETRY_DESK_ITEMS, type DeskInvitation, type TelemetryBody, type TelemetryReport } from '../../protocol/telemetry.js';
import { repeat } from '../../protocol/timers.js';
import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import type { OpenInvitation } from '../desk/invitation-desk.js';
import type { BridgeStatus } from '../status/status.js';
import type { Feature, FeatureContext } from './feature.js';

/** The least time between two reports sent because the desk changed: a busy window is not a flood. */
export const DESK_REPORT_GAP_MS = 1000;

/**
 * The health report on `…/telemetry` (protocol/telemetry.ts): on every connection, every
 * mqtt.telemetrySeconds, and soon after the desk changes (sign-in, sign-out, an invitation opened
 * or closed, a pause or resume), at most one such a second, so that the hall's live view follows the window.
 */
export class Telemetry implements Feature {
  private stopRepeating: (() => void) | undefined;
  private pending: unknown;
  /** Monotonic time of the last report sent (any cause); undefined before the first. */
  private lastSentAt: number | undefined;

  constructor(private readonly ctx: Pick<FeatureContext, 'events' | 'timers' | 'clock' | 'config' | 'status' | 'uplink'>) {}

  start(): void {
    this.ctx.events.on('broker', this.onBroker);
    this.ctx.events.on('invitation', this.onDesk);
    this.ctx.events.on('closed', this.onDesk);
    this.ctx.events.on('staffAction', this.onStaffAction);
    this.ctx.events.on('paused', this.onDesk);
    this.stopRepeating = repeat(this.ctx.timers, this.ctx.config.mqtt.telemetrySeconds * 1000, this.send);
  }

  stop(): void {
    this.ctx.events.off('broker', this.onBroker);
    this.ctx.events.off('invitation', this.onDesk);
    this.ctx.events.off('closed', this.onDesk);
    this.ctx.events.off('staffAction', this.onStaffAction);
    this.ctx.events.off('paused', this.onDesk);
    this.stopRepeating?.();
    if (this.pending !== undefined) this.ctx.timers.clearTimeout(this.pending);
    this.pending = undefined;
  }

  private readonly onBroker = (state: 'connected' | 'disconnected'): void => {
    if (state === 'connected') this.send();
  };

  private readonly onStaffAction = (entry: StaffActionEntry): void => {
    if (entry.action === 'sign_in' || entry.action === 'sign_out') this.onDesk();
  };

  /** One report for a burst of changes, sent once the gap since the last report has passed (on a timer: the status is read after the change settles). */
  private readonly onDesk = (): void => {
    if (this.pending !== undefined) return;
    const now = this.ctx.timers.now();
    const wait = this.lastSentAt === undefined ? 0 : Math.max(0, this.lastSentAt + DESK_REPORT_GAP_MS - now);
    this.pending = this.ctx.timers.setTimeout(() => {
      this.pending = undefined;
      this.send();
    }, wait);
  };

  private readonly send = (): void => {
    this.lastSentAt = this.ctx.timers.now();
    const body: TelemetryBody = { at: this.ctx.clock.now().toISOString(), ...telemetryReport(this.ctx.status(), this.ctx.config.mqtt.telemetrySeconds) };
    this.ctx.uplink.telemetry(body);
  };
}

/** The part of the status worth sending every minute from thousands of terminals. */
export function telemetryReport(s: BridgeStatus, beatSeconds: number): TelemetryReport {
  const { areaCode, hallCode, hallName, windowNo } = s.terminal;
  return {
    place: { areaCode, hallCode, hallName, windowNo },
    beatSeconds,
    alarms: s.alarms,
    backlog: { pending: s.backlog.pending, quarantined: s.backlog.quarantined, oldestPendingAgeMs: s.backlog.oldestPendingAgeMs },
    link: { alive: s.link.alive, portOpen: s.link.portOpen, serial: s.link.terminal?.serial ?? null, fw: s.link.terminal?.fw ?? null, rejectedFrames: s.link.counters.rejected },
    // unexpectedAcks: acks naming what this terminal never sent, a sign of a confused or hostile sender.
    uplink: { inflight: s.broker.inflight, backlogToDrain: s.broker.backlogToDrain, heldForClock: s.broker.heldForClock, unexpectedAcks: s.broker.unexpectedAcks },
    clock: { synced: s.clock.synced, trustedFrom: s.clock.trustedFrom },
    storage: s.storage,
    printer: s.printer.configured ? { condition: s.printer.condition, pending: s.printer.pending, printed: s.printer.printed } : null,
    desk: { staffId: s.staffId ?? null, invitation: s.invitation ? deskInvitation(s.invitation) : null, paused: s.paused },
  };
}

/**
 * The open invitation as the hall's managers may see it: its items, each once, and how many
 * cases; never a case number (it links a rating to the citizen at the province).
 */
export function deskInvitation(open: OpenInvitation): DeskInvitation {
  const items = new Map<string, DeskInvitation['items'][number]>();
  for (const { itemCode, itemName } of open.services) {
    if (items.size >= TELEMETRY_DESK_ITEMS) break;
    if (!items.has(itemCode)) items.set(itemCode, itemName === undefined ? { itemCode } : { itemCode, itemName });
  }
  return { invitedAt: open.invitedAt, mode: open.mode ?? 'single', items: [...items.values()], cases: open.services.length };
}
