import { randomBytes } from 'node:crypto';
import type { ClockStamp } from '../protocol/records.js';

/** Wall time, monotonic time and whether the wall clock can be trusted; injected everywhere. */
export interface Clock {
  now(): Date;
  monoMs(): number;
  isSynced(): boolean;
  readonly bootId: string;
}

export function stamp(clock: Clock): ClockStamp {
  return { synced: clock.isSynced(), bootId: clock.bootId, monoMs: Math.round(clock.monoMs()) };
}

export function newBootId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * The machine's clock. Whether it is synced is given by the caller; deciding it from NTP state
 * and ack server times is the job of the time-honesty work (ARCHITECTURE invariant 4).
 */
export function systemClock(options: { synced?: boolean; bootId?: string } = {}): Clock {
  const bootId = options.bootId ?? newBootId();
  return {
    now: () => new Date(),
    monoMs: () => performance.now(),
    isSynced: () => options.synced ?? true,
    bootId,
  };
}
