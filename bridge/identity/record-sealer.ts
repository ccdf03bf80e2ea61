import { profileIn, type GradeProfileSource } from '../../protocol/grades.js';
import type { RecordFormat } from '../../protocol/record-formats/index.js';
import type { StoredRecord } from '../../protocol/records.js';
import { recordHash, sealBody, type Sign } from '../../protocol/seal/seal.js';

/** A record sealed for the outbox: the message to publish as it is, and its hash (the next record's `prev`). */
export interface SealedRecord {
  body: string;
  hash: string;
}

/**
 * Lays a record out in a sealed layout (v2) and seals it with the terminal's key: what the
 * outbox stores at commit and the uplink publishes verbatim. The grade code profile is applied
 * here, at commit, since the seal covers the code too: a fixed one, or where the one in effect is
 * read (the province's config may change it).
 */
export class RecordSealer {
  constructor(
    private readonly format: RecordFormat,
    private readonly profile: GradeProfileSource,
    private readonly sign: Sign,
  ) {
    if (!format.sealed) throw new Error(`record layout ${format.schema} is not a sealed layout`);
  }

  seal(record: StoredRecord, seq: number, prev: string): SealedRecord {
    const sealed = sealBody(this.format.encode(record, seq, profileIn(this.profile)), prev, this.sign);
    return { body: JSON.stringify(sealed), hash: recordHash(sealed) };
  }
}
