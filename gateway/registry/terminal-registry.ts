import type { ProvinceConfig, ReceiptPage, StaffStars } from '../../protocol/province-config.js';
import { registrationSchema } from '../../protocol/registration.js';
import { terminalIdOfTopic, terminalTopics } from '../../protocol/topics.js';
import type { Database } from '../db/database.js';
import type { Clock, Logger, Publisher } from '../ports.js';
import type { TerminalPlace } from '../receipt-page.js';
import { namesKey, shortFingerprint } from './key-fingerprint.js';
import { loadRosterFile } from './roster-file.js';
import { decideState, fieldsOf, placeOf, type Approval } from './state-decisions.js';
import { checkTerminalId, readStateMessage, readTelemetryMessage } from './state-messages.js';
import { decideRosterEntry, ROSTER_ACTOR } from './roster-decisions.js';
import {
  lockOrCreateTerminal,
  lockOrCreateTerminals,
  lockTerminal,
  recordOperatorAction,
  recordOperatorActions,
  terminalView,
  writeTerminal,
  writeTerminals,
  type TerminalFields,
  type TerminalRow,
  type TerminalStatus,
  type TerminalView,
} from './terminal-rows.js';

/** Where a terminal stands, as its row says (null: not said yet). */
type TerminalPlaceRow = { areaCode: string | null; hallCode: string | null };

export interface TerminalRegistryDeps {
  db: Database;
  publisher: Publisher;
  prefix: string;
  clock: Clock;
  logger: Logger;
  approval: Approval;
  /** What each approved terminal is sent on its retained `…/config`; undefined: nothing is published. */
  terminalConfig: () => ProvinceConfig | undefined;
  /**
   * Where the terminal's receipt QR codes lead, added to its config (gateway/receipt-page.ts
   * receiptPageSource); it may depend on the terminal's hall, so a terminal whose hall changes is
   * sent its config again. Undefined: no receiptPage is sent.
   */
  receiptPage?: ((place: TerminalPlace) => ReceiptPage) | undefined;
  /** The stars of the staff of the terminal's hall, added to its config (gateway/stats/staff-stars.ts). Undefined: none sent. */
  staffStars?: ((place: { areaCode: string | null; hallCode: string | null }) => StaffStars | undefined) | undefined;
  /** Waits before writing a message again after its write failed (a database blip); default 0.5 s then 2 s. */
  retryDelaysMs?: readonly number[];
  /** Default: setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

export interface RegistryStats {
  /** State messages read (registrations, births, last wills), each counted once. */
  states: number;
  telemetry: number;
  /** Hostile or broken messages on state or telemetry: refused, logged, nothing written. */
  unreadable: number;
  /** Empty retained states (a cleared topic): nothing to do. */
  cleared: number;
  /** Telemetry of a terminal the registry does not know: ignored. */
  unknownTelemetry: number;
  /** Births without a key of a terminal the registry does not know: ignored. */
  unknownStates: number;
  /** Keys a terminal brought that wait for the operator (its first, or one other than the approved key). */
  keysPending: number;
  firstKeyApprovals: number;
  configsPublished: number;
  configFailures: number;
  /** Writes that failed (each attempt counted; a message is tried up to three times). */
  dbFailures: number;
  /** Messages let go because too many waited (a retained state comes again at the next subscription). */
  shed: number;
  /** Messages waiting to be written. */
  queued: number;
}

export type RegistryErrorCode = 'not_found' | 'conflict' | 'key_mismatch';

/** A refused operator action, with what to do instead; the admin API answers it as 404 or 409. */
export class RegistryError extends Error {
  override name = 'RegistryError';
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ApproveResult {
  terminal: TerminalView;
  /** The fingerprint of the key now approved. */
  approvedKey: string;
  /** The fingerprint of the key it replaced, if another was approved before. */
  replacedKey: string | null;
  configPublished: boolean;
}

export interface RosterSummary {
  file: string;
  terminals: number;
  /** Not known before: made approved. */
  added: string[];
  /** Known, no key approved yet: approved with the roster's key. */
  approved: string[];
  /** Approved with another key: the roster's key replaces it (logged, an operator action). */
  replaced: string[];
  /** The same key; area, hall or window changed. */
  updated: string[];
  unchanged: number;
  /** Revoked by an operator: a roster does not undo that (`hcp gateway terminals approve` does). */
  revokedSkipped: string[];
  configsPublished: number;
}

const MAX_QUEUE = 100_000;
const DEFAULT_RETRY_DELAYS_MS = [500, 2000];
const CONFIGS_IN_FLIGHT = 64;
const PREVIEW_CHARS = 120;

/**
 * The gateway's terminals: who they are, where, with which key, and whether the operator has
 * approved it. Fed by every terminal's retained `…/state` (registration, birth, last will) and
 * `…/telemetry`; changed otherwise only by an operator (`approve`, `revoke`, the roster file), each
 * change written to operator_actions. A key a terminal brings never replaces the approved one by
 * itself: it waits as pending_key. Approval publishes the terminal's retained `…/config`.
 */
export class TerminalRegistry {
  readonly #deps: TerminalRegistryDeps;
  readonly #stats: Omit<RegistryStats, 'queued'> = {
    states: 0,
    telemetry: 0,
    unreadable: 0,
    cleared: 0,
    unknownTelemetry: 0,
    unknownStates: 0,
    keysPending: 0,
    firstKeyApprovals: 0,
    configsPublished: 0,
    configFailures: 0,
    dbFailures: 0,
    shed: 0,
  };
  /** Per terminal, the latest dated state this instance has read: what a last will ends (state-decisions.ts). */
  readonly #sessionAt = new Map<string, Date>();
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;

  constructor(deps: TerminalRegistryDeps) {
    this.#deps = deps;
  }

  stats(): RegistryStats {
    return { ...this.#stats, queued: this.#queued };
  }

  /** A message on `…/state`. Never throws; written in arrival order, one after another. */
  receiveState(topic: string, payload: Buffer): void {
    try {
      const terminalId = this.#terminalOf(topic, 'state', payload);
      if (terminalId === undefined) return;
      const message = readStateMessage(payload, this.#deps.clock.now());
      if (message.kind === 'cleared') {
        this.#stats.cleared += 1;
        return;
      }
      if (message.kind === 'unreadable') {
        this.#unreadable(topic, payload, message.reason);
        return;
      }
      this.#stats.states += 1;
      if (message.at !== undefined) {
        const seen = this.#sessionAt.get(terminalId);
        if (!seen || message.at > seen) this.#sessionAt.set(terminalId, message.at);
      }
      const sessionAt = this.#sessionAt.get(terminalId);
      this.#enqueue(topic, () => this.#applyState(terminalId, message, sessionAt));
    } catch (err) {
      this.#deps.logger.error({ err, topic }, 'registry: a state message could not be handled; ignored');
    }
  }

  /** A message on `…/telemetry`: kept as the terminal's last telemetry. Never throws. */
  receiveTelemetry(topic: string, payload: Buffer): void {
    try {
      const terminalId = this.#terminalOf(topic, 'telemetry', payload);
      if (terminalId === undefined) return;
      const now = this.#deps.clock.now();
      const message = readTelemetryMessage(payload, now);
      if (message.kind === 'unreadable') {
        this.#unreadable(topic, payload, message.reason);
        return;
      }
      this.#stats.telemetry += 1;
      this.#enqueue(topic, () => this.#applyTelemetry(terminalId, message.body, message.at ?? now, now));
    } catch (err) {
      this.#deps.logger.error({ err, topic }, 'registry: a telemetry message could not be handled; ignored');
    }
  }

  /** Resolves once every message received so far is written (or failed). */
  async idle(): Promise<void> {
    let tail: Promise<void>;
    do {
      tail = this.#tail;
      await tail;
    } while (tail !== this.#tail);
  }

  async list(filter: { status?: TerminalStatus } = {}): Promise<TerminalView[]> {
    const { rows } = await this.#deps.db.query<TerminalRow & Record<string, unknown>>(
      filter.status ? 'SELECT * FROM terminals WHERE status = $1 ORDER BY terminal_id' : 'SELECT * FROM terminals ORDER BY terminal_id',
      filter.status ? [filter.status] : [],
    );
    return rows.map(terminalView);
  }

  async get(terminalId: string): Promise<TerminalView | undefined> {
    const { rows } = await this.#deps.db.query<TerminalRow & Record<string, unknown>>('SELECT * FROM terminals WHERE terminal_id = $1', [terminalId]);
    return rows[0] ? terminalView(rows[0]) : undefined;
  }

  /**
   * The operator approves the key waiting for the terminal (or, for a revoked terminal with none
   * waiting, its own key again). `key`, when given, must name the key being approved (the whole
   * key or 8+ hex digits of its fingerprint): the operator approves the key they saw, not one
   * brought since. Throws RegistryError.
   */
  async approve(terminalId: string, { actor, key }: { actor: string; key?: string | undefined }): Promise<ApproveResult> {
    const now = this.#deps.clock.now();
    const result = await this.#deps.db.transaction(async (tx) => {
      const row = await lockTerminal(tx, terminalId);
      if (!row) throw new RegistryError('not_found', `no terminal ${terminalId} has registered with this gateway`);
      const approving = row.pending_key ?? (row.status === 'revoked' ? row.public_key : null);
      if (approving === null) {
        throw new RegistryError('conflict', `terminal ${terminalId} is ${row.status} with key ${fingerprintOrNone(row.public_key)} and has brought no other key: nothing to approve`);
      }
      if (key !== undefined && !namesKey(key, approving)) {
        throw new RegistryError(
          'key_mismatch',
          `"${key.slice(0, 80)}" does not name the key waiting for terminal ${terminalId} (fingerprint ${shortFingerprint(approving)}): it may have brought another since; look again with \`hcp gateway terminals show ${terminalId}\``,
        );
      }
      const fields = fieldsOf(row);
      const registration = registrationSchema.safeParse(row.pending_registration);
      if (row.pending_key !== null && registration.success && registration.data.publicKey === approving) Object.assign(fields, placeOf(registration.data));
      const replaced = row.public_key !== null && row.public_key !== approving ? row.public_key : null;
      Object.assign(fields, { status: 'approved', public_key: approving, pending_key: null, pending_registration: null, decided_at: now, decided_by: actor });
      await writeTerminal(tx, terminalId, fields);
      await recordOperatorAction(tx, {
        at: now,
        actor,
        action: 'approve',
        terminalId,
        detail: { key: shortFingerprint(approving), ...(replaced && { replaced: shortFingerprint(replaced) }), previousStatus: row.status },
      });
      return { replaced, approving };
    });
    this.#deps.logger.info({ terminalId, actor, key: shortFingerprint(result.approving), replaced: result.replaced && shortFingerprint(result.replaced) }, 'registry: operator approved a terminal key');
    const configPublished = await this.#publishConfig(terminalId);
    const terminal = await this.get(terminalId);
    if (!terminal) throw new RegistryError('not_found', `terminal ${terminalId} is gone`);
    return { terminal, approvedKey: shortFingerprint(result.approving), replacedKey: result.replaced && shortFingerprint(result.replaced), configPublished };
  }

  /** The operator revokes a terminal: its records are refused from now on. Throws RegistryError. */
  async revoke(terminalId: string, { actor, reason }: { actor: string; reason: string }): Promise<TerminalView> {
    const now = this.#deps.clock.now();
    await this.#deps.db.transaction(async (tx) => {
      const row = await lockTerminal(tx, terminalId);
      if (!row) throw new RegistryError('not_found', `no terminal ${terminalId} has registered with this gateway`);
      if (row.status === 'revoked') throw new RegistryError('conflict', `terminal ${terminalId} is already revoked (by ${row.decided_by ?? 'unknown'} at ${row.decided_at?.toISOString() ?? 'unknown'})`);
      await writeTerminal(tx, terminalId, { ...fieldsOf(row), status: 'revoked', decided_at: now, decided_by: actor });
      await recordOperatorAction(tx, { at: now, actor, action: 'revoke', terminalId, detail: { reason, key: fingerprintOrNone(row.public_key), previousStatus: row.status } });
    });
    this.#deps.logger.warn({ terminalId, actor, reason }, 'registry: operator revoked a terminal');
    const terminal = await this.get(terminalId);
    if (!terminal) throw new RegistryError('not_found', `terminal ${terminalId} is gone`);
    return terminal;
  }

  /**
   * Applies the roster file as the operator 'roster', in one transaction: listed terminals are
   * approved with the listed key (a different approved key is replaced: an explicit roster
   * action, logged at warn). Revoked terminals stay revoked. Throws ConfigError for a bad file.
   */
  async applyRoster(path: string): Promise<RosterSummary> {
    const entries = loadRosterFile(path);
    const now = this.#deps.clock.now();
    const summary: RosterSummary = { file: path, terminals: entries.length, added: [], approved: [], replaced: [], updated: [], unchanged: 0, revokedSkipped: [], configsPublished: 0 };
    await this.#deps.db.transaction(async (tx) => {
      const { rows, created } = await lockOrCreateTerminals(tx, entries.map((e) => e.terminalId), now);
      const writes: { terminalId: string; fields: TerminalFields }[] = [];
      const actions: Parameters<typeof recordOperatorActions>[1][number][] = [];
      for (const entry of entries) {
        const row = rows.get(entry.terminalId);
        if (!row) throw new Error(`terminal ${entry.terminalId} vanished inside its own transaction`);
        const decision = decideRosterEntry(row, created.has(entry.terminalId), entry, path, now);
        if (decision.outcome === 'unchanged') summary.unchanged += 1;
        else summary[decision.outcome].push(entry.terminalId);
        if (decision.fields) writes.push({ terminalId: entry.terminalId, fields: decision.fields });
        if (decision.action) actions.push({ at: now, actor: ROSTER_ACTOR, terminalId: entry.terminalId, ...decision.action });
      }
      await writeTerminals(tx, writes);
      await recordOperatorActions(tx, actions);
    });
    for (const id of summary.replaced) this.#deps.logger.warn({ terminalId: id, file: path }, 'registry: the roster file replaced a terminal key');
    if (summary.revokedSkipped.length > 0) this.#deps.logger.warn({ terminals: summary.revokedSkipped, file: path }, 'registry: roster lists revoked terminals; they stay revoked until an operator approves them');
    // A terminal whose place changed is told its receipt page (it may name the hall's deptCode) and its hall's staff stars again.
    const placeChanged = this.#placeMatters() ? summary.updated : [];
    summary.configsPublished = await this.#publishConfigsOf([...summary.added, ...summary.approved, ...summary.replaced, ...placeChanged]);
    const { configsPublished, unchanged } = summary;
    this.#deps.logger.info({ file: path, added: summary.added.length, approved: summary.approved.length, replaced: summary.replaced.length, updated: summary.updated.length, unchanged, configsPublished }, 'registry: roster applied');
    return summary;
  }

  /**
   * Publishes the retained config of every approved terminal (at start: the config may have
   * changed), its place read with it. With nothing but staff stars to send, only the terminals of
   * halls with stars known now: none at start (the stars are made after it), so a restart does not
   * walk a whole fleet for nothing. Returns how many were published.
   */
  async publishConfigs(): Promise<number> {
    const starsOnly = this.#deps.terminalConfig() === undefined && this.#deps.receiptPage === undefined;
    if (starsOnly && this.#deps.staffStars === undefined) return 0;
    const placed = await this.#placed("SELECT terminal_id, area_code, hall_code FROM terminals WHERE status = 'approved' ORDER BY terminal_id");
    return this.#publishConfigsOf(starsOnly ? placed.filter(({ place }) => this.#deps.staffStars?.(place) !== undefined) : placed);
  }

  /** Publishes again the retained config of every approved terminal of these halls (their staff stars changed). Returns how many were published. */
  async publishConfigsAt(halls: readonly { areaCode: string; hallCode: string }[]): Promise<number> {
    if (halls.length === 0) return 0;
    const placed = await this.#placed(
      `SELECT t.terminal_id, t.area_code, t.hall_code FROM terminals t JOIN json_to_recordset($1::json) AS h(area_code text, hall_code text) ON t.area_code = h.area_code AND t.hall_code = h.hall_code
        WHERE t.status = 'approved' ORDER BY t.terminal_id`,
      [JSON.stringify(halls.map((h) => ({ area_code: h.areaCode, hall_code: h.hallCode })))],
    );
    return this.#publishConfigsOf(placed);
  }

  /** Terminals with their places, read in the one query that picks them (not one query each when their configs are made). */
  async #placed(sql: string, params?: readonly unknown[]): Promise<{ terminalId: string; place: TerminalPlaceRow }[]> {
    const { rows } = await this.#deps.db.query<{ terminal_id: string; area_code: string | null; hall_code: string | null }>(sql, params);
    return rows.map((row) => ({ terminalId: row.terminal_id, place: { areaCode: row.area_code, hallCode: row.hall_code } }));
  }

  /** Several in flight at once: a fleet's configs one PUBACK after another would take a round trip each. */
  async #publishConfigsOf(terminals: readonly (string | { terminalId: string; place: TerminalPlaceRow })[]): Promise<number> {
    let published = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < terminals.length) {
        const terminal = terminals[next++]!;
        if (await (typeof terminal === 'string' ? this.#publishConfig(terminal) : this.#publishConfig(terminal.terminalId, terminal.place))) published += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONFIGS_IN_FLIGHT, terminals.length) }, worker));
    return published;
  }

  #terminalOf(topic: string, leaf: 'state' | 'telemetry', payload: Buffer): string | undefined {
    const terminalId = terminalIdOfTopic(topic, leaf, this.#deps.prefix);
    if (terminalId === undefined) {
      this.#unreadable(topic, payload, `not a ${leaf} topic under "${this.#deps.prefix}"`);
      return undefined;
    }
    const problem = checkTerminalId(terminalId);
    if (problem) {
      this.#unreadable(topic, payload, problem);
      return undefined;
    }
    return terminalId;
  }

  #unreadable(topic: string, payload: Buffer, reason: string): void {
    this.#stats.unreadable += 1;
    const preview = payload.subarray(0, PREVIEW_CHARS * 4).toString('utf8').slice(0, PREVIEW_CHARS);
    this.#deps.logger.warn({ topic: topic.slice(0, 200), bytes: payload.length, preview, reason }, 'registry: unreadable message refused; nothing written');
  }

  #enqueue(topic: string, work: () => Promise<void>): void {
    if (this.#queued >= MAX_QUEUE) {
      this.#stats.shed += 1;
      this.#deps.logger.warn({ topic }, `registry: ${MAX_QUEUE} messages wait already; this one is let go`);
      return;
    }
    this.#queued += 1;
    this.#tail = this.#tail.then(async () => {
      try {
        await this.#withRetries(topic, work);
      } finally {
        this.#queued -= 1;
      }
    });
  }

  /** Each write is idempotent, so one that failed (the database away a moment) is simply made again. */
  async #withRetries(topic: string, work: () => Promise<void>): Promise<void> {
    const delays = this.#deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    const sleep = this.#deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref()));
    for (let attempt = 0; ; attempt += 1) {
      try {
        await work();
        return;
      } catch (err) {
        this.#stats.dbFailures += 1;
        const delay = delays[attempt];
        if (delay === undefined) {
          this.#deps.logger.error({ err, topic, attempts: attempt + 1 }, 'registry: writing a terminal message failed; it is not applied on this instance (the next state or telemetry is)');
          return;
        }
        this.#deps.logger.warn({ err, topic, retryInMs: delay }, 'registry: writing a terminal message failed; trying again');
        await sleep(delay);
      }
    }
  }

  async #applyState(terminalId: string, message: Parameters<typeof decideState>[1], sessionAt: Date | undefined): Promise<void> {
    const now = this.#deps.clock.now();
    let moved = false;
    const outcome = await this.#deps.db.transaction(async (tx) => {
      // A birth without a key names no terminal to register: only a known one is updated.
      const found = message.publicKey === undefined ? await lockTerminal(tx, terminalId) : (await lockOrCreateTerminal(tx, terminalId, now)).row;
      if (!found) return 'unknown' as const;
      const decision = decideState(found, message, this.#deps.approval, now, sessionAt);
      await writeTerminal(tx, terminalId, decision.fields);
      if (decision.key === 'first-key') {
        await recordOperatorAction(tx, { at: now, actor: 'first-key', action: 'approve', terminalId, detail: { key: shortFingerprint(message.publicKey ?? ''), approval: 'first-key' } });
      }
      const { fields } = decision;
      moved = decision.key === 'same' && fields.status === 'approved' && (fields.hall_code !== found.hall_code || fields.area_code !== found.area_code);
      return decision.key;
    });
    // An approved terminal registered again in another hall: its receipt page and staff stars are the new hall's.
    if (moved && this.#placeMatters()) await this.#publishConfig(terminalId);
    if (outcome === 'unknown') {
      this.#stats.unknownStates += 1;
      return;
    }
    const key = message.publicKey && shortFingerprint(message.publicKey);
    if (outcome === 'first-key') {
      this.#stats.firstKeyApprovals += 1;
      this.#deps.logger.info({ terminalId, key }, 'registry: a new terminal approved by its first key (terminals.approval: first-key)');
      await this.#publishConfig(terminalId);
    } else if (outcome === 'new-pending') {
      this.#stats.keysPending += 1;
      this.#deps.logger.info({ terminalId, key }, 'registry: a new terminal waits for the operator: hcp gateway terminals approve');
    } else if (outcome === 'key-pending') {
      this.#stats.keysPending += 1;
      this.#deps.logger.warn({ terminalId, key }, 'registry: a terminal brought a key other than the approved one; it is NOT applied and waits for the operator');
    }
  }

  async #applyTelemetry(terminalId: string, body: Record<string, unknown>, at: Date, now: Date): Promise<void> {
    const { rows } = await this.#deps.db.query(
      `UPDATE terminals SET telemetry = CASE WHEN telemetry_at IS NULL OR telemetry_at <= $3 THEN $2::jsonb ELSE telemetry END,
         telemetry_at = GREATEST(telemetry_at, $3), last_seen = GREATEST(last_seen, $4)
       WHERE terminal_id = $1 RETURNING terminal_id`,
      [terminalId, JSON.stringify(body), at, now],
    );
    if (rows.length === 0) this.#stats.unknownTelemetry += 1;
  }

  async #placeOf(terminalId: string): Promise<TerminalPlaceRow> {
    const { rows } = await this.#deps.db.query<{ area_code: string | null; hall_code: string | null }>('SELECT area_code, hall_code FROM terminals WHERE terminal_id = $1', [terminalId]);
    return { areaCode: rows[0]?.area_code ?? null, hallCode: rows[0]?.hall_code ?? null };
  }

  /** Whether a terminal's config depends on its place (its receipt page, its hall's staff stars). */
  #placeMatters(): boolean {
    return this.#deps.receiptPage !== undefined || this.#deps.staffStars !== undefined;
  }

  /** `place`: the terminal's, when the caller read it already. */
  async #publishConfig(terminalId: string, place?: TerminalPlaceRow): Promise<boolean> {
    const topic = terminalTopics(terminalId, this.#deps.prefix).config;
    try {
      const config = await this.#configOf(terminalId, place);
      if (config === undefined) return false;
      await this.#deps.publisher.publish(topic, JSON.stringify(config), { qos: 1, retain: true });
      this.#stats.configsPublished += 1;
      return true;
    } catch (err) {
      this.#stats.configFailures += 1;
      this.#deps.logger.error({ err, terminalId }, 'registry: publishing the terminal config failed; it is published again at the next start');
      return false;
    }
  }

  /** The gateway's config for every terminal, with this terminal's receipt page when there is a source for it. */
  async #configOf(terminalId: string, known?: TerminalPlaceRow): Promise<ProvinceConfig | undefined> {
    const shared = this.#deps.terminalConfig();
    const { receiptPage: pageOf, staffStars: starsOf } = this.#deps;
    if (pageOf === undefined && starsOf === undefined) return shared;
    const place = known ?? (await this.#placeOf(terminalId));
    const staffStars = starsOf?.(place);
    const config = { ...shared, ...(pageOf && { receiptPage: pageOf({ terminalId, hallCode: place.hallCode }) }), ...(staffStars && { staffStars }) };
    return Object.keys(config).length > 0 ? config : undefined;
  }
}

function fingerprintOrNone(key: string | null): string {
  return key ? shortFingerprint(key) : 'none';
}
