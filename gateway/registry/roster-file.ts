import { readFileSync, statSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../bridge/config.js';
import { requiredFieldMessages } from '../../protocol/issues.js';
import { areaCodeSchema, terminalIdSchema } from '../../protocol/records.js';
import { ED25519_SPKI_HEADER } from '../../protocol/seal/seal.js';

/*
 * The roster file: the terminals an operator approves by listing them, with their keys
 * (terminals.rosterFile, applied at start and on SIGHUP). Every refusal names the entry's field
 * and its line.
 */

/** An Ed25519 public key as terminals send it: SPKI DER, base64 (bridge/identity/terminal-key.ts). */
export const ed25519KeySchema = z
  .string()
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'expected the terminal key in base64 (SPKI DER), as `hcp provision` prints it')
  .refine((key) => {
    const der = Buffer.from(key, 'base64');
    return der.length === 44 && der.subarray(0, 12).toString('hex') === ED25519_SPKI_HEADER;
  }, 'not an Ed25519 public key (base64 of 44 bytes of SPKI DER)');

export const rosterEntrySchema = z.strictObject({
  terminalId: terminalIdSchema,
  publicKey: ed25519KeySchema,
  areaCode: areaCodeSchema.optional(),
  hallCode: z.string().min(1).max(64).optional(),
  windowNo: z.string().min(1).max(16).optional(),
});
export type RosterEntry = z.infer<typeof rosterEntrySchema>;

export const MAX_ROSTER_TERMINALS = 100_000;

export const rosterFileSchema = z
  .strictObject({ terminals: z.array(rosterEntrySchema).max(MAX_ROSTER_TERMINALS, `at most ${MAX_ROSTER_TERMINALS} terminals`) })
  .superRefine((roster, ctx) => {
    const seen = new Map<string, number>();
    roster.terminals.forEach((entry, i) => {
      const first = seen.get(entry.terminalId);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['terminals', i, 'terminalId'], message: `terminal ${entry.terminalId} is listed twice (also entry ${first})` });
      else seen.set(entry.terminalId, i);
    });
  });

const MAX_PROBLEMS = 10;

/** A fleet's roster: 100,000 entries of ~130 bytes fit, with room for comments. */
export const MAX_ROSTER_BYTES = 32 * 1024 * 1024;

/** Reads and checks a roster file; a ConfigError lists each problem as `terminals.2.publicKey (line 7): …`. */
export function loadRosterFile(path: string): RosterEntry[] {
  return parseRosterText(readRosterText(path), `roster file ${path}`);
}

/** Like a config file's read, with a fleet's size: anything but a regular file is refused before it is opened. */
function readRosterText(path: string): string {
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new ConfigError(`roster file ${path} is not a regular file: give the YAML or JSON list of terminals (terminals.rosterFile)`, []);
    if (stat.size > MAX_ROSTER_BYTES) throw new ConfigError(`roster file ${path} is ${stat.size} bytes: a roster is at most ${MAX_ROSTER_BYTES}; is this the right file?`, []);
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read roster file ${path}: ${(err as Error).message}`, []);
  }
}

export function parseRosterText(text: string, source: string): RosterEntry[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(`${source} is not valid YAML:`, doc.errors.slice(0, MAX_PROBLEMS).map((e) => e.message.split('\n')[0] ?? e.message));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias with no anchor, or too many aliases: yaml says so only when it builds the value.
    throw new ConfigError(`${source} is not valid YAML:`, [(err as Error).message.split('\n')[0] ?? 'unreadable']);
  }
  const result = rosterFileSchema.safeParse(data ?? {}, { error: requiredFieldMessages });
  if (result.success) return result.data.terminals;
  const problems = result.error.issues.slice(0, MAX_PROBLEMS).map((issue) => {
    const path = issue.path.map(String).join('.') || '(top level)';
    const line = lineOf(doc, lines, issue.path);
    return `${path}${line === undefined ? '' : ` (line ${line})`}: ${issue.message}`;
  });
  if (result.error.issues.length > MAX_PROBLEMS) problems.push(`and ${result.error.issues.length - MAX_PROBLEMS} more`);
  throw new ConfigError(`${source} is invalid:`, problems);
}

/** The line of the node at `path`, or of its nearest ancestor present (a missing field: its entry's line). */
function lineOf(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = doc.getIn(path.slice(0, depth).map((key) => (typeof key === 'symbol' ? String(key) : key)), true) as unknown;
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range && (isMap(node) || isSeq(node) || typeof node === 'object')) return lines.linePos(range[0]).line;
  }
  return undefined;
}
