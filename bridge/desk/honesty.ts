import type { Grade } from '../../protocol/grades.js';
import type { Service } from '../../protocol/records.js';
import type { Outbox } from '../store/outbox.js';

/**
 * What makes a rating look wrong (DOMAIN: staff pressing for the citizen, scripted good reviews).
 * Such ratings are flagged, never dropped: the province decides.
 */
export interface HonestyRules {
  /** A press sooner than this after the invitation reached the terminal: `fast_press`. */
  minPressMs: number;
  /** Stray presses (no invitation) this shortly before an invitation: `stray_nearby`. */
  strayWindowMs: number;
  /** This many identical grades in a row at the window, within `burstWindowMs`: `grade_burst`. */
  burstCount: number;
  burstWindowMs: number;
}

const DAY_MS = 24 * 3600 * 1000;

/** Flags known when the invitation is made. */
export function invitationFlags(
  services: readonly Service[],
  context: { outbox: Outbox; rules: HonestyRules; now: Date; lastStrayAt: number | undefined },
): string[] {
  const flags: string[] = [];
  const since = new Date(context.now.getTime() - DAY_MS);
  if (services.some((s) => context.outbox.caseInvitedSince(s.caseNo, since))) flags.push('repeat_case');
  if (context.lastStrayAt !== undefined && context.now.getTime() - context.lastStrayAt <= context.rules.strayWindowMs) {
    flags.push('stray_nearby');
  }
  return flags;
}

/** Flags known when the rating arrives (checked before it is stored). */
export function ratingFlags(rating: { grade: Grade; latencyMs: number }, context: { outbox: Outbox; rules: HonestyRules; now: Date }): string[] {
  const flags: string[] = [];
  if (rating.latencyMs < context.rules.minPressMs) flags.push('fast_press');
  const { burstCount, burstWindowMs } = context.rules;
  const previous = context.outbox.latestRatings(burstCount - 1);
  const inWindow = previous.every((p) => context.now.getTime() - Date.parse(p.closedAt) <= burstWindowMs);
  if (burstCount > 1 && previous.length === burstCount - 1 && inWindow && previous.every((p) => p.grade === rating.grade)) {
    flags.push('grade_burst');
  }
  return flags;
}
