import type { Clock } from '../clock.js';
import { honestTimes } from '../../protocol/record-formats/record-time.js';
import type { StoredRecord } from '../../protocol/records.js';
import type { WallSource } from './wall-source.js';

/**
 * How the bridge decides its wall clock can be trusted:
 * - `ntp`: once the OS reports NTP sync, or a province ack carries `serverTime` (a Raspberry Pi
 *   has no RTC: after a power cut its clock is wrong until then);
 * - `system`: always (a machine whose clock is known good, e.g. the simulator).
 */
export type ClockTrust = 'ntp' | 'system';

interface Anchor {
  wallMs: number;
  monoMs: number;
  from: 'ntp' | 'province' | 'system';
}

/**
 * The bridge's clock (ARCHITECTURE invariant 4). Time is anchored to the boot's monotonic clock
 * at the moment a trusted wall time was seen; records made before that are corrected from their
 * monotonic stamp when they are published, provided they were made in this boot.
 */
export class TimeKeeper implements Clock {
  private anchor: Anchor | undefined;

  constructor(
    private readonly source: WallSource,
    readonly bootId: string,
    private readonly trust: ClockTrust,
  ) {
    if (trust === 'system') this.anchor = { wallMs: source.wallMs(), monoMs: source.monoMs(), from: 'system' };
  }

  now(): Date {
    const anchor = this.anchor;
    if (this.trust === 'system' || !anchor) return new Date(this.source.wallMs());
    return new Date(anchor.wallMs + (this.source.monoMs() - anchor.monoMs));
  }

  monoMs(): number {
    return this.source.monoMs();
  }

  isSynced(): boolean {
    return this.anchor !== undefined;
  }

  /** Where the trusted time came from, for status and telemetry. */
  get trustedFrom(): Anchor['from'] | null {
    return this.anchor?.from ?? null;
  }

  /** Asks the OS whether NTP has synced; if so, the wall clock is right from now on. */
  async pollNtp(): Promise<void> {
    if (this.trust === 'system') return;
    if ((await this.source.ntpSynced()) === true) {
      this.anchor = { wallMs: this.source.wallMs(), monoMs: this.source.monoMs(), from: 'ntp' };
    }
  }

  /** A trusted time from outside (the province's `serverTime`), used while NTP has not synced. */
  observeServerTime(serverTime: Date): void {
    if (this.trust === 'system' || this.anchor?.from === 'ntp' || Number.isNaN(serverTime.getTime())) return;
    this.anchor = { wallMs: serverTime.getTime(), monoMs: this.source.monoMs(), from: 'province' };
  }

  /** Whether a record still made on an untrusted clock could be corrected later (this boot's). */
  correctable(record: StoredRecord): boolean {
    return !record.clock.synced && record.clock.bootId === this.bootId;
  }

  /**
   * The record as it should be published: made on an untrusted clock and correctable now, its
   * times are moved by what the clock was off and it is flagged `time_corrected`; not
   * correctable, it goes flagged `clock_unsynced`.
   */
  forUpstream<T extends StoredRecord>(record: T): T {
    return honestTimes(record, this.correctionMs(record));
  }

  /** How far the clock was off when this record was made (ms to add), or null: synced then, or not correctable now. */
  correctionMs(record: StoredRecord): number | null {
    const anchor = this.anchor;
    if (record.clock.synced || !anchor || !this.correctable(record)) return null;
    const madeAt = record.kind === 'invitation' ? record.closedAt : record.at;
    // Whole milliseconds: what an ISO time holds, and what a sealed record's signed correction carries.
    return Math.round(anchor.wallMs + (record.clock.monoMs - anchor.monoMs) - Date.parse(madeAt));
  }
}
