import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

/**
 * The operating system's boot id: monotonic time is counted from boot, so (boot id, monotonic
 * ms) places a record in time across bridge restarts. Random where the kernel does not say.
 */
export function osBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replace(/-/g, '').slice(0, 16);
  } catch {
    return randomBytes(8).toString('hex');
  }
}
