import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { explain } from '../../protocol/issues.js';
import { PAIRING_KEY_HEX_LENGTH } from '../../protocol/line-auth.js';
import { writeConfigFile } from '../config-file.js';

/*
 * The bridge's half of the pairing with its terminal (docs/protocol.md, "Pairing and tags"): the
 * key both share and the device serial pinned. A secret: a file of mode 0600 beside the terminal's
 * signing key, never in the config file, argv or the logs.
 */

const pairingRecordSchema = z.strictObject({
  key: z.string().regex(new RegExp(`^[0-9a-f]{${PAIRING_KEY_HEX_LENGTH}}$`), `${PAIRING_KEY_HEX_LENGTH} lower-case hex digits`),
  /** The device serial of the paired terminal; null until a terminal takes the key (then pinned). */
  serial: z.string().min(1).max(64).nullable(),
  pairedAt: z.iso.datetime().nullable(),
});
export type PairingRecord = z.infer<typeof pairingRecordSchema>;

/** What the terminal link needs of the pairing. */
export interface Pairing {
  readonly key: string;
  /** The pinned device serial; null while no terminal has taken the key. */
  readonly serial: string | null;
  /** Pins the device that took the key (kept before the link accepts it). */
  pin(serial: string): void;
}

/**
 * Where the pairing lives: beside the database, as the terminal's signing key does, and named
 * after it, so that two bridges whose databases share a folder never share a pairing.
 */
export function pairingFile(config: { database: { path: string } }): string {
  return `${config.database.path}.pairing.json`;
}

function save(path: string, record: PairingRecord): void {
  writeConfigFile(path, `${JSON.stringify(record)}\n`);
}

/** A fresh pairing: a new key, no device pinned. Replaces what `path` held (re-pairing). */
export function resetPairing(path: string): PairingRecord {
  const record: PairingRecord = { key: randomBytes(PAIRING_KEY_HEX_LENGTH / 2).toString('hex'), serial: null, pairedAt: null };
  save(path, record);
  return record;
}

export function readPairing(path: string): PairingRecord {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not a pairing file (${(err as Error).message}); re-pair with hcp pair`, { cause: err });
  }
  const parsed = explain(pairingRecordSchema, value);
  if (!parsed.ok) throw new Error(`${path}: ${parsed.problems.join('; ')}; re-pair with hcp pair`);
  return parsed.data;
}

/** The pairing kept in `path`, made there (a new key, nothing pinned) on first use. */
export function loadOrCreatePairing(path: string, now: () => Date = () => new Date()): Pairing & { created: boolean } {
  const created = !existsSync(path);
  let record = created ? resetPairing(path) : readPairing(path);
  return {
    created,
    get key() {
      return record.key;
    },
    get serial() {
      return record.serial;
    },
    pin(serial) {
      record = { ...record, serial, pairedAt: now().toISOString() };
      save(path, record);
    },
  };
}
