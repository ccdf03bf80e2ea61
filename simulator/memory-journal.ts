import type { KeyStore, ReportJournal } from '../firmware/core/hardware.js';

/** A virtual terminal's non-volatile memory (its reports and its pairing key): survives a virtual reboot, as flash does. */
export class MemoryJournal implements ReportJournal, KeyStore {
  private entries: string[] = [];
  private key: string | null = null;

  loadKey(): string | null {
    return this.key;
  }

  saveKey(key: string): void {
    this.key = key;
  }

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
