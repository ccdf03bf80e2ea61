import type { GradeCodeProfileName } from '../grades.js';
import type { Explained } from '../issues.js';
import type { StoredRecord, UpstreamRecord } from '../records.js';

/**
 * One layout of the upstream record. Every layout travels as JSON with a string `id` and a
 * numeric `schema` naming the layout (ARCHITECTURE: a change of the record layout bumps
 * `schema`), so that a receiver can dedupe a record and pick its decoder before reading the rest.
 */
export interface RecordFormat {
  /** The `schema` value of this layout's records. */
  readonly schema: number;
  /**
   * Sealed at commit (layout 2): the bridge stores `encode`'s body sealed and publishes it
   * verbatim. Unsealed (layout 1): the bridge stores the record and encodes it when publishing.
   */
  readonly sealed: boolean;
  /** A stored record (grades by meaning) laid out for the wire, its sequence number and grade code added. */
  encode(record: StoredRecord, seq: number, profile: GradeCodeProfileName): { id: string; schema: number };
  /** A received record (parsed JSON whose `schema` is this layout's), each problem named by its field. */
  decode(body: unknown): Explained<UpstreamRecord>;
}
