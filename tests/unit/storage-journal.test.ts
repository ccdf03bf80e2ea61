import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JOURNAL_SLACK, readJournalFile, storageJournal } from '../../firmware/espruino/storage-journal.js';
import { FakeEspruinoStorage, PowerCut } from '../support/espruino-flash-fake.js';

const NAME = 'hcpjrnl';

/** An entry as the core writes one (a report's JSON), with any byte in it: the journal must not care. */
function entry(id: number, filler: string): string {
  return `{"type":"rating","inv":"${id}","x":${JSON.stringify(filler)}}`;
}

/** E.CRC32 (standard CRC-32, each character a byte). */
const crc = (text: string): number => crc32(Buffer.from(text, 'latin1'));

/** A reset: the RAM state is gone, the flash stays. */
function reboot(storage: FakeEspruinoStorage, slack = JOURNAL_SLACK): ReturnType<typeof storageJournal> {
  storage.budget = Infinity;
  return storageJournal(storage, NAME, crc, slack);
}

describe('storage journal', () => {
  it('gives back what was saved last, across resets, in order', () => {
    const storage = new FakeEspruinoStorage();
    let journal = reboot(storage);
    expect(journal.load()).toEqual([]);
    journal.save([entry(1, 'a')]);
    journal.save([entry(1, 'a'), entry(2, 'b')]);
    journal.save([entry(2, 'b')]);
    journal = reboot(storage);
    expect(journal.load()).toEqual([entry(2, 'b')]);
    journal.save([entry(2, 'b'), entry(3, 'c')]);
    journal.save([]);
    journal = reboot(storage);
    expect(journal.load()).toEqual([]);
  });

  it('appends records to one file until it is full, then moves to the other name; Storage never erases a page for it', () => {
    const storage = new FakeEspruinoStorage(4096, 8);
    const journal = reboot(storage, 512);
    journal.load();
    for (let i = 0; i < 40; i++) {
      journal.save([entry(i, 'x'.repeat(40))]);
      journal.save([]);
    }
    // Each report: an `a` record (96 bytes with this entry) and an `r` record (24): about 4 per 512-byte slack.
    expect(storage.compactions).toBe(0);
    expect(storage.pageErases).toBe(0);
    const files = [readJournalFile(storage, crc, `${NAME}0`), readJournalFile(storage, crc, `${NAME}1`)].filter((f) => f !== undefined);
    expect(files).toHaveLength(1); // the old one erased once the new one was whole
    expect(files[0]?.gen).toBeGreaterThan(5);
  });

  it('a save that changes nothing writes nothing', () => {
    const storage = new FakeEspruinoStorage();
    const journal = reboot(storage);
    journal.save([entry(1, 'a'), entry(2, 'b')]);
    const before = storage.programmed;
    journal.save([entry(1, 'a'), entry(2, 'b')]);
    journal.save([entry(1, 'a'), entry(2, 'b')]);
    expect(storage.programmed).toBe(before);
  });

  it('a write cut at any byte of a save leaves the list before it or after it, and the journal goes on', () => {
    const before = [entry(1, 'one'), entry(2, 'two'), entry(3, 'three')];
    const after = [entry(1, 'one'), entry(3, 'three'), entry(4, 'four')];
    const prepare = (): FakeEspruinoStorage => {
      const storage = new FakeEspruinoStorage();
      const journal = reboot(storage, 256);
      journal.save(before.slice(0, 1));
      journal.save(before);
      return storage;
    };
    const probe = prepare();
    const start = probe.programmed;
    reboot(probe, 256).save(after);
    const bytes = probe.programmed - start;
    expect(bytes).toBeGreaterThan(0);
    for (let cut = 0; cut < bytes; cut++) {
      const storage = prepare();
      const journal = reboot(storage, 256);
      journal.load();
      storage.budget = cut;
      expect(() => journal.save(after)).toThrow(PowerCut);
      const again = reboot(storage, 256);
      const loaded = again.load();
      // Entries 1 and 3 are never lost; 2 may stay (its removal was cut); 4 may be in.
      expect(loaded.filter((e) => e !== entry(2, 'two') && e !== entry(4, 'four'))).toEqual([entry(1, 'one'), entry(3, 'three')]);
      again.save(after);
      expect(reboot(storage, 256).load()).toEqual(after);
    }
  });

  it('uses the older file when the newer one was cut while being written', () => {
    const storage = new FakeEspruinoStorage();
    const journal = reboot(storage, 64);
    const list = [entry(1, 'p'.repeat(30))];
    journal.save(list);
    const grown = [...list, entry(2, 'q'.repeat(30)), entry(3, 'r'.repeat(30))];
    // Too big for the 64-byte slack: a new file, cut in its base.
    storage.budget = 120;
    expect(() => journal.save(grown)).toThrow(PowerCut);
    expect(reboot(storage, 64).load()).toEqual(list);
  });

  it('with no room for two files, gives up the old one first and still saves', () => {
    // 3 KB in all: a file with these entries and its slack (2,128 bytes) takes more than half.
    const storage = new FakeEspruinoStorage(1024, 3);
    const write = storage.write.bind(storage);
    let refused = 0;
    storage.write = (...args) => {
      try {
        return write(...args);
      } catch (error) {
        refused++;
        throw error;
      }
    };
    const journal = reboot(storage, 1024);
    let list = Array.from({ length: 10 }, (_, i) => entry(i, 'z'.repeat(60)));
    for (let i = 10; i < 40; i++) {
      list = [...list.slice(1), entry(i, 'y'.repeat(60))];
      journal.save(list);
    }
    expect(refused).toBeGreaterThan(0);
    expect(reboot(storage, 1024).load()).toEqual(list);
  });

  /**
   * Random lists saved as the core saves them (new reports at the end, acknowledged ones dropped
   * anywhere, the oldest dropped past the limit), with power cut at random bytes. After each cut the
   * device restarts on the flash: what load() gives is held by the core and saved again from there.
   * Tolerated: a report whose removal the cut interrupted comes back (the bridge keeps one report per
   * invitation or ref and drops the repeat); a report whose save the cut interrupted may be there or not.
   * Never: a report saved before the cut missing, a report removed before the cut back, an entry
   * that was never saved, the same entry twice, or the order changed.
   */
  it('never loses, resurrects or corrupts an entry, whatever byte a power cut hits (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), filler: fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 120 }) }),
      fc.record({ kind: fc.constant('ack' as const), mask: fc.nat() }),
      fc.record({ kind: fc.constant('cut' as const), budget: fc.nat({ max: 600 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), fc.integer({ min: 0, max: 600 }), (ops, slack) => {
        const storage = new FakeEspruinoStorage(1024, 16);
        let journal = reboot(storage, slack);
        let saved = journal.load();
        let nextId = 0;
        let cutNext: number | undefined;
        const idOf = (text: string): number => Number(/"inv":"(\d+)"/.exec(text)?.[1]);
        ops.forEach((o) => {
          if (o.kind === 'cut') {
            cutNext = o.budget;
            return;
          }
          let next = o.kind === 'add' ? [...saved, entry(nextId++, o.filler)] : saved.filter((_, i) => ((o.mask >> i % 31) & 1) === 0);
          if (next.length > 12) next = next.slice(-12);
          storage.budget = cutNext ?? Infinity;
          cutNext = undefined;
          try {
            journal.save(next);
            saved = next;
          } catch (error) {
            if (!(error instanceof PowerCut)) throw error;
            journal = reboot(storage, slack);
            const loaded = journal.load();
            const survivors = saved.filter((e) => next.includes(e));
            expect(survivors.every((e) => loaded.includes(e))).toBe(true);
            expect(loaded.every((e) => saved.includes(e) || next.includes(e))).toBe(true);
            expect(new Set(loaded).size).toBe(loaded.length);
            expect(loaded.map(idOf)).toEqual(loaded.map(idOf).sort((a, b) => a - b));
            saved = loaded;
          }
        });
        expect(reboot(storage, slack).load()).toEqual(saved);
      }),
      { numRuns: 300 },
    );
  });

  it('saves lists in any order and gives them back as saved, without cuts (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 8 }), { maxLength: 30 }), (lists) => {
        const storage = new FakeEspruinoStorage(1024, 16);
        const journal = reboot(storage, 128);
        lists.forEach((list) => journal.save(list.map((s) => encodeURIComponent(s))));
        const last = lists.at(-1) ?? [];
        const loaded = reboot(storage, 128).load();
        // An entry kept while others moved ahead of it keeps its place in the file: the same entries, maybe reordered.
        expect([...loaded].sort()).toEqual(last.map((s) => encodeURIComponent(s)).sort());
      }),
      { numRuns: 200 },
    );
  });
});
