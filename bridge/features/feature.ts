import type { EventEmitter } from 'node:events';
import type { Timers } from '../../protocol/timers.js';
import type { BridgeEvents } from '../bridge-events.js';
import type { BridgeConfig } from '../config.js';
import type { InvitationDesk } from '../desk/invitation-desk.js';
import type { Logger } from '../log.js';
import type { ReceiptService } from '../printer/receipt-service.js';
import type { ReasonCatalogSource } from '../province/reason-catalog.js';
import type { BridgeStatus } from '../status/status.js';
import type { AuditLog } from '../store/audit.js';
import type { Outbox } from '../store/outbox.js';
import type { Settings } from '../store/settings.js';
import type { CustomerScreen } from '../screen/customer-screen.js';
import type { StaffCards } from '../screen/staff-cards.js';
import type { TimeKeeper } from '../time/time-keeper.js';
import type { Uplink } from '../uplink/uplink.js';
import type { VoiceOutput } from '../voice/voice-output.js';

/**
 * Something the bridge runs beside the rating path (receipts, telemetry, housekeeping; voice and
 * a customer screen to come). Its constructor only keeps what it is given; start() subscribes
 * to the bridge's events and arms its timers, stop() lets go of both.
 */
export interface Feature {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** What a feature may use: the bridge's events, its settings, time, and the parts it reports through. */
export interface FeatureContext {
  events: EventEmitter<BridgeEvents>;
  config: BridgeConfig;
  timers: Timers;
  clock: TimeKeeper;
  logger: Logger;
  status(): BridgeStatus;
  outbox: Pick<Outbox, 'prune' | 'append'>;
  /** The audit of staff actions (append-only). */
  audit: Pick<AuditLog, 'append' | 'prune'>;
  /** Runs a change in one commit (the bridge's, so that a full disk is one fault it raises). */
  transaction<T>(fn: () => T): T;
  newId(): string;
  uplink: Pick<Uplink, 'telemetry'>;
  /** The receipt printer's service, when a printer is configured. */
  receipts: ReceiptService | undefined;
  /** The desk, for a feature the citizen acts through (the customer screen). */
  desk: Pick<InvitationDesk, 'current' | 'staffId' | 'paused' | 'screenPress' | 'screenReason'>;
  /** The staff card of who is signed in: name, title, photo, stars. */
  staffCards: Pick<StaffCards, 'card'>;
  /** Small durable state (the customer screen's pairings). */
  settings: Pick<Settings, 'get' | 'set'>;
  /** The province's reason catalogue in use, and word when a new one is adopted. */
  reasons: ReasonCatalogSource;
  /** The voice's player and prompts, when voice is configured. */
  voice: VoiceOutput | undefined;
  /** The customer screen, when one is configured (started as a feature). */
  screen: CustomerScreen | undefined;
}
