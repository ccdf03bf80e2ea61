import type { StorageModule } from '../../firmware/espruino/espruino.js';

/** Thrown by the fake when its power budget runs out mid-write: the device died there. */
export class PowerCut extends Error {
  constructor() {
    super('power cut');
  }
}

const HEADER = 32; // 4 bytes size + 28 bytes name, as espruino/Espruino src/jsflash.h JsfFileHeader
const NAME = 28;
const UNSET = 0xffffffff;

interface FileAt {
  header: number;
  data: number;
  size: number;
}

/**
 * Espruino's `require('Storage')` over NOR flash, as far as the journal and the key store depend on it, after
 * espruino/Espruino src/jsflash.c (2v29):
 * - programming only clears bits (the new byte is ANDed in); only a page erase sets them again,
 *   and Storage erases pages only when it compacts;
 * - files lie one after another: a 32-byte header (size, name), the data, padding to 4 bytes;
 *   a file is created at the end of the last one, compacting first when there is no room and the
 *   deleted files' space would make some (jsfCreateFile), else it throws;
 * - write(name, data, 0, size) creates the file anew (erasing the old one) unless it is the same
 *   size and still erased; write at an offset > 0 writes into the file only where the bytes are
 *   erased (jsfWriteFile), and throws otherwise;
 * - erase(name) clears the first name word (the file reads as deleted), it wipes nothing;
 * - read() clips to the file and returns undefined for no file; unwritten bytes read 0xFF.
 *
 * Power cuts: `budget` counts the data bytes that may still be programmed; the one past it throws
 * PowerCut, leaving the bytes before it written and the rest erased (a torn write); from then on
 * every call throws PowerCut too (the device is off, whatever the code would have done next). Espruino's
 * own steps that the journal cannot protect are atomic here: a file header, the name word an
 * erase clears, and a whole compaction (Espruino compacts through a RAM buffer: a cut then can
 * lose files whatever the journal does; the journal's part is to make it rare).
 */
export class FakeEspruinoStorage implements StorageModule {
  readonly flash: Uint8Array;
  /** Set by a reset (a new journal on the same flash): the device lives again. */
  set budget(bytes: number) {
    this.left = bytes;
    this.dead = false;
  }
  private left = Infinity;
  /** After a cut nothing more happens until the reset: every call throws PowerCut. */
  private dead = false;
  pageErases = 0;
  compactions = 0;
  programmed = 0;

  constructor(
    readonly pageSize = 4096,
    readonly pages = 4,
  ) {
    this.flash = new Uint8Array(pageSize * pages).fill(0xff);
  }

  read(name: string, offset = 0, length = 0): string | undefined {
    this.alive();
    const file = this.find(name);
    if (!file) return undefined;
    const from = Math.min(Math.max(offset, 0), file.size);
    const to = length > 0 ? Math.min(from + length, file.size) : file.size;
    return Buffer.from(this.flash.subarray(file.data + from, file.data + to)).toString('latin1');
  }

  write(name: string, data: string, offset = 0, size = 0): boolean {
    this.alive();
    if (offset < 0 || size < 0) return false;
    const bytes = Buffer.from(data, 'latin1');
    if (size === 0) size = bytes.length;
    if (size === 0) throw new Error("Can't create zero length file");
    let file = this.find(name);
    if (offset === 0 && (!file || file.size !== size || !this.erased(file.data, size))) {
      if (file && file.size === size && bytes.length === size && Buffer.compare(Buffer.from(this.flash.subarray(file.data, file.data + size)), bytes) === 0) return true;
      if (file) this.deleteAt(file);
      file = this.create(name, size);
    }
    if (!file) throw new Error('Unable to find or create file');
    if (offset + bytes.length > file.size) throw new Error('Too much data for file size');
    if (!this.erased(file.data + offset, bytes.length)) throw new Error('File already written with different data');
    bytes.forEach((byte, i) => {
      if (this.left <= 0) {
        this.dead = true;
        throw new PowerCut();
      }
      this.left--;
      this.programmed++;
      this.program(file.data + offset + i, byte);
    });
    return true;
  }

  /** As Espruino's: the file parsed, undefined if there is none (or, with noExceptions, if it is not JSON). */
  readJSON(name: string, noExceptions = false): unknown {
    const text = this.read(name);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      if (noExceptions) return undefined;
      throw error;
    }
  }

  /** As Espruino's: a new file holding the JSON text. */
  writeJSON(name: string, data: unknown): boolean {
    return this.write(name, JSON.stringify(data));
  }

  erase(name: string): void {
    this.alive();
    const file = this.find(name);
    if (file) this.deleteAt(file);
  }

  private alive(): void {
    if (this.dead) throw new PowerCut();
  }

  /** Bytes between the end of the last file and the end of the area. */
  free(): number {
    return this.flash.length - this.usedEnd();
  }

  /** Every file header in order, deleted ones included. */
  private headers(): { at: number; size: number; name: string; deleted: boolean }[] {
    const found = [];
    let at = 0;
    while (at + HEADER <= this.flash.length) {
      const size = this.word(at);
      if (size === UNSET || size === 0) break;
      const nameBytes = this.flash.subarray(at + 4, at + HEADER);
      const deleted = this.word(at + 4) === 0;
      found.push({ at, size: size & 0xffffff, name: Buffer.from(nameBytes).toString('latin1').replace(/\0+$/, ''), deleted });
      at = align4(at + HEADER + (size & 0xffffff));
    }
    return found;
  }

  private find(name: string): FileAt | undefined {
    const header = this.headers().find((h) => !h.deleted && h.name === name);
    return header && { header: header.at, data: header.at + HEADER, size: header.size };
  }

  private usedEnd(): number {
    const last = this.headers().at(-1);
    return last ? align4(last.at + HEADER + last.size) : 0;
  }

  private create(name: string, size: number): FileAt | undefined {
    if (Buffer.byteLength(name, 'latin1') > NAME) throw new Error('name too long');
    const needed = HEADER + align4(size);
    if (this.free() < needed) {
      const trash = this.headers()
        .filter((h) => h.deleted)
        .reduce((sum, h) => sum + HEADER + align4(h.size), 0);
      if (this.free() + trash < needed) return undefined;
      this.compact();
    }
    const at = this.usedEnd();
    const header = Buffer.alloc(HEADER, 0);
    header.writeUInt32LE(size, 0);
    header.write(name, 4, 'latin1');
    header.forEach((byte, i) => this.program(at + i, byte));
    return { header: at, data: at + HEADER, size };
  }

  /** Live files moved to the start, every page that held anything erased. */
  private compact(): void {
    const live = this.headers().filter((h) => !h.deleted);
    const copies = live.map((h) => Buffer.from(this.flash.subarray(h.at, h.at + HEADER + h.size)));
    this.pageErases += Math.ceil(this.usedEnd() / this.pageSize);
    this.compactions++;
    this.flash.fill(0xff);
    let at = 0;
    copies.forEach((copy) => {
      this.flash.set(copy, at);
      at = align4(at + copy.length);
    });
  }

  private deleteAt(file: FileAt): void {
    for (let i = 0; i < 4; i++) this.program(file.header + 4 + i, 0);
  }

  private program(at: number, byte: number): void {
    this.flash[at] = (this.flash[at] as number) & byte;
  }

  private erased(from: number, length: number): boolean {
    return this.flash.subarray(from, from + length).every((b) => b === 0xff);
  }

  private word(at: number): number {
    return Buffer.from(this.flash.subarray(at, at + 4)).readUInt32LE(0);
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
