/**
 * Run by Espruino's interpreter, not by Node: the flash journal (firmware/espruino/storage-journal.ts)
 * saving the lists of journal-lists.ts, one per tick, for tests/e2e/espruino-power-loss.test.ts,
 * which kills the interpreter at random instants and starts it again on the same flash.
 */
import { readJournalFile, storageJournal, type JournalStorage } from '../../firmware/espruino/storage-journal.js';
import { journalLists } from './journal-lists.js';

declare function require(name: 'Storage'): JournalStorage;
declare function print(text: string): void;
declare const E: { CRC32(text: string): number };
declare const global: Record<string, unknown>;

export const DRIVER_JOURNAL = 'hcpjrnl';

/** What start() answers: load()'s entries, and per file (name + 0, name + 1) its generation and end (-1: torn), 'invalid', or null (no file). */
export interface DriverStart {
  loaded: string[];
  files: ({ gen: number; end: number } | 'invalid' | null)[];
}

/**
 * Loads the journal, then saves the lists of steps `from` … `to` - 1, one per tick (so the console
 * prints each `@ok <step>` soon after its save), and `@done` at the end.
 */
function start(from: number, to: number, slack: number): DriverStart {
  const storage = require('Storage');
  const journal = storageJournal(storage, DRIVER_JOURNAL, E.CRC32, slack);
  const loaded = journal.load();
  const files = [0, 1].map((i) => {
    const file = readJournalFile(storage, E.CRC32, DRIVER_JOURNAL + i);
    if (file) return { gen: file.gen, end: file.end };
    return storage.read(DRIVER_JOURNAL + i, 0, 1) === undefined ? null : ('invalid' as const);
  });
  const next = journalLists();
  let step = 0;
  for (; step < from; step++) next();
  const tick = (): void => {
    journal.save(next());
    print('@ok ' + step);
    if (++step < to) setTimeout(tick, 0);
    else print('@done');
  };
  if (from < to) setTimeout(tick, 0);
  return { loaded, files };
}

global.start = start;
