import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { ReportJournal } from '../core/hardware.js';

/**
 * The report journal in a file, for a terminal run by the Pi itself: written whole to a temporary
 * file, flushed, then renamed over the old one, so a power cut leaves either version intact.
 */
export class FileJournal implements ReportJournal {
  constructor(private readonly path: string) {}

  load(): string[] {
    try {
      const entries: unknown = JSON.parse(readFileSync(this.path, 'utf8'));
      return Array.isArray(entries) ? entries.filter((e): e is string => typeof e === 'string') : [];
    } catch {
      return []; // none yet, or unreadable: start empty
    }
  }

  save(entries: readonly string[]): void {
    const temporary = `${this.path}.tmp`;
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, JSON.stringify(entries));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.path);
  }
}
