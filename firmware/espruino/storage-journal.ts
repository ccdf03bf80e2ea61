import type { ReportJournal } from '../core/hardware.js';

/**
 * The report journal in Espruino's flash Storage, written as a log so that a power cut at any
 * instant loses nothing saved and the flash is seldom erased (issue 17; docs/espruino.md, "Journal").
 *
 * Flash bits can only be cleared; setting them again takes erasing a whole page (16 KB on a Pico),
 * which Storage does only when it compacts. So the journal never rewrites what it wrote: each
 * save() appends what changed since the last one, as records, into a file created once with room
 * to spare (Storage.write with a size); unwritten bytes read 0xFF, and Storage.write at an offset
 * into a file writes only where the flash is still erased (espruino/Espruino src/jsflash.c,
 * jsfWriteFile). When the file is full, the live entries go into a new file under the other of two
 * names, with the next generation number; the old one is erased (marked deleted, not wiped) once the
 * new one is complete. Storage.write compacts by itself when it finds no room for a new file and
 * compacting would make some (jsfCreateFile), so the journal never calls compact().
 *
 * A record: a kind letter, the payload's length (4 hex digits), the payload, then the CRC-32 of
 * all that (8 hex digits: Espruino's native E.CRC32; the CRC-16 of protocol/ in JavaScript took 18 ms
 * per report on the interpreter for Linux, far more on a board); records start at multiples of 8
 * bytes, so no flash word is written twice
 * (boards with 64-bit flash words cannot). Kinds: `g` (first in a file: generation, number of `a`
 * records that follow as the file's base, file size), `a` (an entry), `r` (the offsets of the `a`
 * records no longer live, space-separated). A write cut short leaves the record's end erased, so
 * its CRC never matches: load() stops there, and the next change goes into a fresh file rather than
 * after the torn bytes. A file whose base is incomplete (cut while it was written) is ignored.
 *
 * Entries are stored one byte per character: the core's JSON texts, which Espruino's JSON.stringify
 * keeps ASCII (it escapes the rest).
 */
export interface JournalStorage {
  read(name: string, offset: number, length: number): string | undefined;
  write(name: string, data: string, offset: number, size?: number): boolean;
  erase(name: string): void;
}

/** Bytes a new file keeps beyond its live entries: about 16 more reports and their acks before the next file. */
export const JOURNAL_SLACK = 2048;

/** What one journal file holds, as load() reads it. */
export interface JournalFile {
  gen: number;
  entries: string[];
  /** Where each entry's `a` record starts. */
  offsets: number[];
  /** Where the next record goes; -1 when the file ends in a torn write (so nothing may follow). */
  end: number;
  size: number;
}

/** CRC-32 of a string's bytes, as E.CRC32 (unsigned). */
export type Crc32 = (text: string) => number;

const ERASED = '\xff\xff\xff\xff\xff\xff\xff\xff';

/** `n` in `digits` lower-case hex digits. */
function hex(n: number, digits: number): string {
  return ('0000000' + n.toString(16)).slice(-digits);
}

function record(crc32: Crc32, kind: string, payload: string): string {
  const head = kind + hex(payload.length, 4);
  return head + payload + hex(crc32(head + payload), 8);
}

/** Bytes from one record's start to the next's: 13 + payload, up to a multiple of 8. */
function span(payloadLength: number): number {
  return (payloadLength + 20) & ~7;
}

/** The record at `offset` as [kind, payload], or undefined if none is there whole. */
function readRecord(storage: JournalStorage, crc32: Crc32, file: string, offset: number): [string, string] | undefined {
  const head = storage.read(file, offset, 5) || '';
  const length = parseInt(head.slice(1), 16);
  if (!(length >= 0)) return undefined;
  const payload = storage.read(file, offset + 5, length) || '';
  return storage.read(file, offset + 5 + length, 8) === hex(crc32(head + payload), 8) ? [head.charAt(0), payload] : undefined;
}

/** Reads a journal file; undefined if it is missing, not one, or its base was cut short. */
export function readJournalFile(storage: JournalStorage, crc32: Crc32, file: string): JournalFile | undefined {
  const first = readRecord(storage, crc32, file, 0);
  if (!first || first[0] !== 'g') return undefined;
  // Generation, base entries, file size.
  const head = first[1].split(' ');
  const entries: string[] = [];
  const offsets: number[] = [];
  let end = span(first[1].length);
  let adds = 0;
  for (let next = readRecord(storage, crc32, file, end); next; next = readRecord(storage, crc32, file, end)) {
    if (next[0] === 'a') {
      adds++;
      offsets.push(end);
      entries.push(next[1]);
    } else {
      next[1].split(' ').forEach((gone) => {
        const i = offsets.indexOf(Number(gone));
        if (i >= 0) {
          offsets.splice(i, 1);
          entries.splice(i, 1);
        }
      });
    }
    end += span(next[1].length);
  }
  if (adds < Number(head[1])) return undefined;
  const tail = storage.read(file, end, 8) || '';
  return { gen: Number(head[0]), entries, offsets, end: tail === ERASED.slice(0, tail.length) ? end : -1, size: Number(head[2]) };
}

/** The journal in files `name + 0` and `name + 1`; on Espruino, `crc32` is E.CRC32. */
export function storageJournal(storage: JournalStorage, name: string, crc32: Crc32, slack: number): ReportJournal {
  /** The file in use (0 or 1), -1 for none. */
  let current = -1;
  let gen = 0;
  let size = 0;
  let end = -1;
  let offsets: number[] = [];
  let loaded = false;

  const append = (kind: string, payload: string): void => {
    storage.write(name + current, record(crc32, kind, payload), end);
    end += span(payload.length);
  };
  /** Whether the `a` record at `offset` holds `text`. */
  const holds = (offset: number, text: string): boolean =>
    storage.read(name + current, offset, 5) === 'a' + hex(text.length, 4) && storage.read(name + current, offset + 5, text.length) === text;

  /** The live entries into the other file, then the old one erased. */
  const rewrite = (entries: readonly string[]): void => {
    const target = current === 0 ? 1 : 0;
    // 40 bytes for the `g` record: its payload stays under 28 characters.
    let bytes = slack + 40;
    entries.forEach((text) => (bytes += span(text.length)));
    const head = gen + 1 + ' ' + entries.length + ' ' + bytes;
    const create = (): boolean => storage.write(name + target, record(crc32, 'g', head), 0, bytes);
    try {
      create();
    } catch (noRoom) {
      // No room for both files even once Storage compacted: the old one goes first. A cut right
      // now would lose the journal, as the whole-file journal could at every save.
      if (current < 0) throw noRoom;
      storage.erase(name + current);
      current = -1;
      create();
    }
    const old = current;
    current = target;
    gen++;
    size = bytes;
    end = span(head.length);
    offsets = [];
    entries.forEach((text) => {
      offsets.push(end);
      append('a', text);
    });
    if (old >= 0) storage.erase(name + old);
  };

  const load = (): string[] => {
    loaded = true;
    current = -1;
    gen = 0;
    end = -1;
    offsets = [];
    // The newer whole file; two are there only after a cut between finishing one and erasing the other.
    const files = [readJournalFile(storage, crc32, name + 0), readJournalFile(storage, crc32, name + 1)];
    const newer = files[1] && !(files[0] && files[0].gen > files[1].gen) ? 1 : 0;
    const file = files[newer];
    if (file) {
      current = newer;
      gen = file.gen;
      size = file.size;
      end = file.end;
      offsets = file.offsets;
      return file.entries;
    }
    return [];
  };

  return {
    load,
    save(entries) {
      if (!loaded) load();
      // What changed: the core keeps its order, dropping acknowledged reports and adding new ones at
      // the end, so one pass matches each entry with the next live record that holds it.
      const kept: number[] = [];
      const added: string[] = [];
      const removed: number[] = [];
      let j = 0;
      entries.forEach((text) => {
        for (let k = j; k < offsets.length; k++) {
          if (holds(offsets[k] as number, text)) {
            while (j < k) removed.push(offsets[j++] as number);
            kept.push(offsets[k] as number);
            j = k + 1;
            return;
          }
        }
        added.push(text);
        kept.push(-1);
      });
      while (j < offsets.length) removed.push(offsets[j++] as number);
      const gone = removed.join(' ');
      if (!added.length && !gone) return;
      let bytes = gone ? span(gone.length) : 0;
      added.forEach((text) => (bytes += span(text.length)));
      if (end < 0 || end + bytes > size) return rewrite(entries);
      // New entries before the removals: a cut between them keeps a removed report (the bridge
      // drops a report it already has), never loses a new one.
      added.forEach((text) => {
        kept[kept.indexOf(-1)] = end;
        append('a', text);
      });
      if (gone) append('r', gone);
      offsets = kept;
    },
  };
}
