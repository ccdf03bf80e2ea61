import type { ReportJournal } from '../firmware/core/hardware.js';

/** A virtual terminal's non-volatile memory: survives a virtual reboot, as flash does. */
export class MemoryJournal implements ReportJournal {
  private entries: string[] = [];

  load(): string[] {
    return [...this.entries];
  }

  save(entries: readonly string[]): void {
    this.entries = [...entries];
  }

  get size(): number {
    return this.entries.length;
  }
}
