import { EventEmitter } from 'node:events';
import type { InvitationMode, Outcome, StoredInvitation } from '../../protocol/records.js';
import type { Timers } from '../../protocol/timers.js';
import { PROMPTS, type Announcement } from '../../protocol/voice-prompts.js';
import type { OfferedReason } from '../bridge-events.js';
import type { OpenInvitation } from '../desk/invitation-desk.js';

/** The staff card: who serves at this window, as the citizen sees them. */
export interface StaffCard {
  staffId: string;
  name: string | null;
  title: string | null;
  /** A data: URL (protocol/staff-photo.ts), or null. */
  photo: string | null;
  /** 0-5 in halves, or null when the gateway sent none (or screen.showStars is false). */
  stars: number | null;
}

/** What the screen shows in the middle: waiting, the invitation, the reasons, or the thanks. */
export type ScreenPhase =
  | { kind: 'idle' }
  | { kind: 'invited'; invitationId: string; items: string[]; mode: InvitationMode; proxy: boolean }
  /** After a bad grade: the reasons as text. via terminal: chosen on its buttons (labelled by number); via screen: touched here. */
  | { kind: 'reasons'; invitationId: string; via: 'terminal' | 'screen'; reasons: Array<{ button: number; label: string }> }
  /** The invitation closed: thanks (rated), timed out, or cancelled; the receipt's QR code when one was made. */
  | { kind: 'closed'; invitationId: string; outcome: Outcome; qr: string | null };

/**
 * Everything the customer screen's page shows, pushed to it whole on every change. Never a grade
 * (invariant 8): the counter sees the screen too, and after a rating the page says thanks only.
 */
export interface ScreenView {
  seq: number;
  hallName: string;
  windowNo: string;
  staff: StaffCard | null;
  paused: boolean;
  /** A greeting or 请在一米线外等候 staff asked for, shown as a banner for a while. */
  banner: string | null;
  phase: ScreenPhase;
}

/** How long an announcement's banner stays up. */
export const BANNER_MS = 8000;

export interface ScreenStateOptions {
  hallName: string;
  windowNo: string;
  timers: Timers;
  /** How long the closed phase (thanks, timeout, the QR code) stays before the screen waits again. */
  thanksMs: number;
}

/**
 * The customer screen's state, from the bridge's events: a small model with its timers injected,
 * so that each rule is a unit test. It takes only what the screen may show: the item names, the
 * offered reasons' labels, an invitation's outcome; a record's grade never enters it.
 */
export class ScreenState extends EventEmitter<{ change: [ScreenView] }> {
  private current: ScreenView;
  private phaseTimer: unknown;
  private bannerTimer: unknown;

  constructor(private readonly opts: ScreenStateOptions) {
    super();
    this.current = { seq: 0, hallName: opts.hallName, windowNo: opts.windowNo, staff: null, paused: false, banner: null, phase: { kind: 'idle' } };
  }

  get view(): ScreenView {
    return this.current;
  }

  /** Where the desk is when the screen starts: who is signed in, paused or not, the open invitation. */
  restore(staff: StaffCard | null, paused: boolean, open: OpenInvitation | undefined): void {
    this.update({ staff, paused, phase: open && !open.cancelled ? invitedPhase(open) : { kind: 'idle' } });
  }

  staff(card: StaffCard | null): void {
    this.update({ staff: card });
  }

  paused(paused: boolean): void {
    this.update({ paused });
  }

  invitation(open: OpenInvitation): void {
    this.clearPhaseTimer();
    this.update({ phase: invitedPhase(open), banner: null });
  }

  choosing(invitationId: string, reasons: readonly OfferedReason[], via: 'terminal' | 'screen'): void {
    const phase = this.current.phase;
    if (!('invitationId' in phase) || phase.invitationId !== invitationId || phase.kind === 'closed') return;
    this.update({ phase: { kind: 'reasons', invitationId, via, reasons: reasons.map(({ button, label }) => ({ button, label })) } });
  }

  /** The invitation's one outcome: its grade is not read. */
  closed(record: Pick<StoredInvitation, 'id' | 'outcome'>): void {
    this.clearPhaseTimer();
    this.update({ phase: { kind: 'closed', invitationId: record.id, outcome: record.outcome, qr: null } });
    this.phaseTimer = this.opts.timers.setTimeout(() => {
      this.phaseTimer = undefined;
      this.update({ phase: { kind: 'idle' } });
    }, this.opts.thanksMs);
  }

  /** The receipt made for a closed invitation, its QR code as an image URL: shown while its thanks is. */
  receipt(invitationId: string, qr: string): void {
    const phase = this.current.phase;
    if (phase.kind !== 'closed' || phase.invitationId !== invitationId) return;
    this.update({ phase: { ...phase, qr } });
  }

  announce(what: Announcement): void {
    this.opts.timers.clearTimeout(this.bannerTimer);
    this.update({ banner: PROMPTS[what].text });
    this.bannerTimer = this.opts.timers.setTimeout(() => {
      this.bannerTimer = undefined;
      this.update({ banner: null });
    }, BANNER_MS);
  }

  stop(): void {
    this.clearPhaseTimer();
    this.opts.timers.clearTimeout(this.bannerTimer);
  }

  private clearPhaseTimer(): void {
    if (this.phaseTimer === undefined) return;
    this.opts.timers.clearTimeout(this.phaseTimer);
    this.phaseTimer = undefined;
  }

  private update(change: Partial<Omit<ScreenView, 'seq'>>): void {
    this.current = { ...this.current, ...change, seq: this.current.seq + 1 };
    this.emit('change', this.current);
  }
}

function invitedPhase(open: OpenInvitation): ScreenPhase {
  // An item without a name shows its code: the citizen sees what they are asked about.
  const items = [...new Set(open.services.map((service) => service.itemName ?? service.itemCode))];
  return { kind: 'invited', invitationId: open.id, items, mode: open.mode, proxy: open.proxy };
}
