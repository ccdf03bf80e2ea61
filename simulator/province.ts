import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { ackSchema, timeProbeSchema, type Ack, type AckStatus } from '../protocol/acks.js';
import type { ProvinceConfig } from '../protocol/province-config.js';
import { decodeRecord } from '../protocol/record-formats/index.js';
import type { InvitationRecord, UpstreamRecord } from '../protocol/records.js';
import { birthSchema, registrationSchema, type Registration } from '../protocol/registration.js';
import { supersedeRefusal } from '../protocol/supersede.js';
import { SealLedger, TerminalKeys, type PendingKey, type SealReport } from './province-seals.js';
import type { Gap } from '../protocol/seal/chain.js';
import { allTerminalsFilter, DEFAULT_TOPIC_PREFIX, terminalIdOfTopic, terminalTopics } from '../protocol/topics.js';
import { SAMPLE_STAFF_ROSTER } from './sample-staff.js';

/** The subset of a pino logger the emulator uses (a pino logger fits). */
export interface ProvinceLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ProvinceEmulatorOptions {
  /** Broker URL, e.g. `EmbeddedBroker.url`. */
  url: string;
  /** Topic prefix; records are read from `${prefix}/+/records`. Default `hcp/v1`. */
  prefix?: string;
  clientId?: string;
  /** Hold every ack this long before publishing it (slow-province fault). Default 0. */
  ackDelayMs?: number;
  /**
   * Lost-ack fault: an ack for which this returns true is never sent (the records stay stored at
   * the province; the terminal must publish them again and be answered `duplicate`).
   */
  dropAck?: (ack: Ack, terminalId: string) => boolean;
  /** A business-rule rejection: a reason for a valid record the province refuses, or undefined. */
  rejectIf?: (record: UpstreamRecord) => string | undefined;
  /** Clock for `serverTime` in acks. */
  now?: () => Date;
  /**
   * The ids it has accepted, by which it dedupes. Pass the same set to the emulator started after
   * a restart: it then remembers them, as a receiver's database would. Default: a new set.
   */
  acceptedIds?: Set<string>;
  /** Answer a terminal's time probe (`…/time`) with `serverTime`; false plays a receiver that does not (default true). */
  answerTimeProbes?: boolean;
  /** Most ids in one ack message; a batch this full is sent at once. Default 500. */
  maxAckBatch?: number;
  /** Default: pino at level `warn` (unreadable messages and MQTT errors). */
  logger?: ProvinceLogger;
  /** Extra mqtt.js client options (e.g. `clean: false` for a persistent session). */
  mqtt?: IClientOptions;
  /** auto (default): a terminal that registers (hcp provision) is sent `configForNewTerminals` at once; manual: nothing is sent. */
  registration?: 'auto' | 'manual';
  /** Default: SAMPLE_PROVINCE_CONFIG. */
  configForNewTerminals?: ProvinceConfig;
}

/** What the emulator sends a newly registered terminal: a reason catalogue and a staff roster like a province's. */
export const SAMPLE_PROVINCE_CONFIG: ProvinceConfig = {
  staffRoster: SAMPLE_STAFF_ROSTER,
  reasonCatalog: {
    version: '2026.11',
    reasons: [
      { code: 'R01', label: '服务态度差' },
      { code: 'R02', label: '办事效率低' },
      { code: 'R03', label: '多次跑动' },
    ],
  },
};

export interface ProvinceStats {
  /** Every message on a records topic. received = accepted + duplicates + rejected + unreadable + held. */
  received: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Not JSON, not an object with a string `id`, or not on a records topic: cannot be acked. */
  unreadable: number;
  /** Ack messages published (and PUBACKed by the broker). */
  acksSent: number;
  /** Ack messages withheld by the `dropAck` fault. */
  acksDropped: number;
  /** Time probes answered (not counted in `received`). */
  timeProbes: number;
  /** Sealed records left unacknowledged (published again by the bridge): no key registered, or a new key awaiting the operator. */
  held: number;
}

export interface TerminalCounts {
  accepted: number;
  duplicates: number;
  rejected: number;
}

export interface Rejection {
  id: string;
  terminalId: string;
  reason: string;
}

export interface Unreadable {
  topic: string;
  reason: string;
}

export type ProvinceEvents = {
  record: [record: UpstreamRecord, terminalId: string];
  duplicate: [id: string, terminalId: string];
  rejected: [rejection: Rejection];
  unreadable: [info: Unreadable];
  /** An ack was published (after the broker's PUBACK). */
  ack: [ack: Ack, terminalId: string];
  registered: [terminalId: string, registration: Registration];
  /** A terminal brought a key other than the one registered for it: pending until `approveKey`. */
  keyPending: [terminalId: string, publicKey: string];
  /** A record whose seal was not simply right (refused, held, or accepted flagged): see `sealReports`. */
  sealReport: [report: SealReport];
};

export interface WaitForOptions {
  timeoutMs?: number;
}

interface PendingAck {
  terminalId: string;
  status: AckStatus;
  reason: string | undefined;
  ids: string[];
}

interface Waiter {
  check: () => boolean;
  fail: (err: Error) => void;
}

const DEFAULT_MAX_ACK_BATCH = 500;

/**
 * Plays the provincial 好差评 system: reads every terminal's records in whichever layout of
 * protocol/record-formats each names by its `schema`, verifies each record's seal against the
 * terminal's pinned key and chain before anything else (province-seals.ts: refused, held or
 * flagged, never silently accepted), validates them against the upstream contract, dedupes by record id, keeps the accepted ones in arrival order, and acknowledges on each
 * terminal's `…/acks` topic, batching ids of the same terminal, status (and, for rejections,
 * reason) that arrive together.
 */
export class ProvinceEmulator extends EventEmitter<ProvinceEvents> {
  readonly prefix: string;
  readonly clientId: string;
  readonly #client: MqttClient;
  readonly #ackDelayMs: number;
  readonly #dropAck: ProvinceEmulatorOptions['dropAck'];
  readonly #rejectIf: ProvinceEmulatorOptions['rejectIf'];
  readonly #now: () => Date;
  readonly #answerTimeProbes: boolean;
  readonly #maxAckBatch: number;
  readonly #log: ProvinceLogger;
  readonly #registration: 'auto' | 'manual';
  readonly #configForNew: ProvinceConfig;
  readonly #registrations = new Map<string, Registration>();
  readonly #keys = new TerminalKeys();
  readonly #seals = new SealLedger(this.#keys, (report) => this.emit('sealReport', report));

  readonly #records: UpstreamRecord[] = [];
  /** Invitation records replaced by a reconciling one (`supersedes`), by id: no longer an outcome. */
  readonly #superseded = new Set<string>();
  readonly #acceptedIds: Set<string>;
  readonly #byTerminal = new Map<string, UpstreamRecord[]>();
  readonly #counts = new Map<string, TerminalCounts>();
  readonly #rejections: Rejection[] = [];
  readonly #stats: ProvinceStats = { received: 0, accepted: 0, duplicates: 0, rejected: 0, unreadable: 0, acksSent: 0, acksDropped: 0, timeProbes: 0, held: 0 };

  /** Ack batches collected in the current macrotask, keyed by terminal, status and reason. */
  readonly #pending = new Map<string, PendingAck>();
  #flushImmediate: NodeJS.Immediate | undefined;
  readonly #delayTimers = new Set<NodeJS.Timeout>();
  readonly #waiters = new Set<Waiter>();
  #stopping: Promise<void> | undefined;

  private constructor(client: MqttClient, options: ProvinceEmulatorOptions, clientId: string) {
    super();
    this.#client = client;
    this.clientId = clientId;
    this.prefix = options.prefix ?? DEFAULT_TOPIC_PREFIX;
    this.#ackDelayMs = options.ackDelayMs ?? 0;
    this.#dropAck = options.dropAck;
    this.#rejectIf = options.rejectIf;
    this.#now = options.now ?? (() => new Date());
    this.#answerTimeProbes = options.answerTimeProbes ?? true;
    this.#acceptedIds = options.acceptedIds ?? new Set();
    this.#maxAckBatch = Math.max(1, options.maxAckBatch ?? DEFAULT_MAX_ACK_BATCH);
    this.#log = options.logger ?? pino({ name: 'province-emulator', level: 'warn' });
    this.#registration = options.registration ?? 'auto';
    this.#configForNew = options.configForNewTerminals ?? SAMPLE_PROVINCE_CONFIG;
    client.on('message', (topic, payload) => this.#onMessage(topic, payload));
    client.on('error', (err) => this.#log.error({ err }, 'province emulator: MQTT client error'));
  }

  static async start(options: ProvinceEmulatorOptions): Promise<ProvinceEmulator> {
    const clientId = options.clientId ?? `province-emulator-${randomUUID().slice(0, 8)}`;
    const client = await connectAsync(options.url, { clientId, ...options.mqtt });
    const province = new ProvinceEmulator(client, options, clientId);
    try {
      const filter = allTerminalsFilter('records', province.prefix);
      const leaves = [filter, allTerminalsFilter('state', province.prefix), allTerminalsFilter('time', province.prefix)];
      const grants = await client.subscribeAsync(leaves, { qos: 1 });
      const refused = grants.filter((g) => g.qos !== 1);
      if (refused.length > 0) {
        throw new Error(`province emulator: subscription to ${filter} not granted at QoS 1 (got ${refused.map((g) => g.qos).join(', ')})`);
      }
    } catch (err) {
      await client.endAsync(true);
      throw err;
    }
    return province;
  }

  /** Accepted records, in arrival order: one outcome per invitation (those superseded are left out). */
  records(): UpstreamRecord[] {
    return this.#records.filter((r) => !this.#superseded.has(r.id));
  }

  recordsOf(terminalId: string): UpstreamRecord[] {
    return (this.#byTerminal.get(terminalId) ?? []).filter((r) => !this.#superseded.has(r.id));
  }

  get stats(): ProvinceStats {
    return { ...this.#stats };
  }

  rejections(): Rejection[] {
    return this.#rejections.map((r) => ({ ...r }));
  }

  /** Per terminal (by topic), for the live hall view. */
  countsByTerminal(): Record<string, TerminalCounts> {
    const out: Record<string, TerminalCounts> = {};
    for (const [terminalId, counts] of this.#counts) out[terminalId] = { ...counts };
    return out;
  }

  /**
   * Resolves with the predicate's value as soon as it is neither `undefined`, `null` nor `false`.
   * Checked now, then after every processed message and every published ack.
   */
  waitFor<T>(predicate: () => T | undefined | false | null, { timeoutMs = 5000 }: WaitForOptions = {}): Promise<T> {
    // Created here so that a timeout points at the caller, not at a timer.
    const timeoutError = new Error(`ProvinceEmulator.waitFor: condition not met within ${timeoutMs} ms`);
    return new Promise<T>((resolve, reject) => {
      if (this.#stopping) {
        reject(new Error('ProvinceEmulator.waitFor: emulator is stopped'));
        return;
      }
      const waiter: Waiter = {
        check: () => {
          let value: T | undefined | false | null;
          try {
            value = predicate();
          } catch (err) {
            waiter.fail(err instanceof Error ? err : new Error(String(err)));
            return true;
          }
          if (value === undefined || value === false || value === null) return false;
          this.#waiters.delete(waiter);
          clearTimeout(timer);
          resolve(value);
          return true;
        },
        fail: (err) => {
          this.#waiters.delete(waiter);
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        timeoutError.message += ` (stats: ${JSON.stringify(this.#stats)})`;
        waiter.fail(timeoutError);
      }, timeoutMs);
      if (!waiter.check()) this.#waiters.add(waiter);
    });
  }

  /**
   * Sends the acks collected so far (not those held by `ackDelayMs`), disconnects, and fails any
   * pending `waitFor`. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    if (this.#client.connected) this.#flush();
    clearImmediate(this.#flushImmediate);
    this.#flushImmediate = undefined;
    this.#pending.clear();
    for (const timer of this.#delayTimers) clearTimeout(timer);
    this.#delayTimers.clear();
    for (const waiter of [...this.#waiters]) waiter.fail(new Error('ProvinceEmulator stopped before the condition held'));
    // A graceful end waits for in-flight QoS 1 acks; without a connection there is nothing to wait for.
    await this.#client.endAsync(!this.#client.connected);
  }

  #onMessage(topic: string, payload: Buffer): void {
    if (this.#stopping) return;
    try {
      this.#ingest(topic, payload);
    } catch (err) {
      this.#log.error({ err, topic }, 'province emulator: failed to process a message');
    }
    this.#checkWaiters();
  }

  #ingest(topic: string, payload: Buffer): void {
    const provisioned = terminalIdOfTopic(topic, 'state', this.prefix);
    if (provisioned !== undefined) {
      this.#onState(provisioned, payload);
      return;
    }
    const asking = terminalIdOfTopic(topic, 'time', this.prefix);
    if (asking !== undefined) {
      this.#onTimeProbe(asking, payload);
      return;
    }
    this.#stats.received += 1;
    const terminalId = terminalIdOfTopic(topic, 'records', this.prefix);
    if (terminalId === undefined) {
      this.#unreadable(topic, payload, `not a records topic under "${this.prefix}"`);
      return;
    }
    const decoded = decodeRecord(payload.toString('utf8'));
    if (decoded.kind === 'unreadable') {
      this.#unreadable(topic, payload, decoded.reason);
      return;
    }
    const { id } = decoded;
    const counts = this.#countsOf(terminalId);

    // The seal before anything else, dedupe included: an altered resend is refused, not called a duplicate.
    const seal = this.#seals.check(terminalId, id, JSON.parse(payload.toString('utf8')));
    if (seal.action === 'hold') {
      this.#stats.held += 1;
      this.#log.warn({ id, terminalId, reason: seal.reason }, 'province emulator: record held unacknowledged');
      return;
    }
    if (seal.action === 'reject') {
      this.#reject({ id, terminalId, reason: seal.reason }, counts);
      return;
    }

    // Dedupe first: a resend of a record already held is a duplicate whatever its body now says,
    // so that the terminal can clear it from its outbox.
    if (this.#acceptedIds.has(id)) {
      this.#stats.duplicates += 1;
      counts.duplicates += 1;
      this.#enqueueAck(terminalId, 'duplicate', id);
      this.emit('duplicate', id, terminalId);
      return;
    }

    if (decoded.kind === 'invalid') {
      this.#reject({ id, terminalId, reason: decoded.reason }, counts);
      return;
    }
    const { record } = decoded;
    if (record.terminalId !== terminalId) {
      const reason = `terminalId: record names terminal "${record.terminalId}" but was published on the topic of terminal "${terminalId}"`;
      this.#reject({ id, terminalId, reason }, counts);
      return;
    }

    const refusal = this.#rejectIf?.(record) ?? this.#supersede(record);
    if (refusal !== undefined) {
      this.#reject({ id, terminalId, reason: refusal }, counts);
      return;
    }
    this.#acceptedIds.add(id);
    this.#records.push(record);
    let list = this.#byTerminal.get(terminalId);
    if (!list) this.#byTerminal.set(terminalId, (list = []));
    list.push(record);
    this.#stats.accepted += 1;
    counts.accepted += 1;
    this.#enqueueAck(terminalId, 'accepted', id);
    this.emit('record', record, terminalId);
  }

  /**
   * One outcome per invitation: a record that `supersedes` an earlier one (a terminal's late
   * report, reconciled by its bridge) takes its place, if that one was closed by the bridge without
   * the terminal. Pointing at any other record is refused. When the earlier arrives after it (a
   * backlog), it is checked then: an ineligible earlier record stands and the stray one is left out.
   */
  #supersede(record: UpstreamRecord): string | undefined {
    if (record.kind === 'invitation' && record.supersedes !== undefined) {
      const earlier = this.#records.find((r) => r.id === record.supersedes);
      const refusal = this.#superseded.has(record.supersedes) ? `supersedes: record ${record.supersedes} was already superseded` : earlier && supersedeRefusal(earlier, record);
      if (!refusal) this.#superseded.add(record.supersedes);
      return refusal;
    }
    const stray = this.#superseded.has(record.id) ? this.#records.find((r): r is InvitationRecord => r.kind === 'invitation' && r.supersedes === record.id) : undefined;
    const refusal = stray && supersedeRefusal(record, stray);
    if (stray && refusal) {
      this.#superseded.delete(record.id);
      this.#superseded.add(stray.id);
      this.#log.warn({ id: stray.id, refusal }, 'province emulator: a record superseded one it may not replace; the earlier stands');
    }
    return undefined;
  }

  #reject(rejection: Rejection, counts: TerminalCounts): void {
    this.#stats.rejected += 1;
    counts.rejected += 1;
    this.#rejections.push(rejection);
    this.#enqueueAck(rejection.terminalId, 'rejected', rejection.id, rejection.reason);
    this.emit('rejected', { ...rejection });
  }

  #unreadable(topic: string, payload: Buffer, reason: string): void {
    this.#stats.unreadable += 1;
    this.#log.warn(
      { topic, reason, bytes: payload.length, preview: payload.subarray(0, 120).toString('utf8') },
      'province emulator: unreadable record message (not acknowledged)',
    );
    this.emit('unreadable', { topic, reason });
  }

  #countsOf(terminalId: string): TerminalCounts {
    let counts = this.#counts.get(terminalId);
    if (!counts) this.#counts.set(terminalId, (counts = { accepted: 0, duplicates: 0, rejected: 0 }));
    return counts;
  }

  #enqueueAck(terminalId: string, status: AckStatus, id: string, reason?: string): void {
    // One ack carries one reason, so rejections are batched only with others of the same reason.
    const key = JSON.stringify([terminalId, status, reason ?? null]);
    let batch = this.#pending.get(key);
    if (!batch) this.#pending.set(key, (batch = { terminalId, status, reason, ids: [] }));
    batch.ids.push(id);
    if (batch.ids.length >= this.#maxAckBatch) {
      this.#pending.delete(key);
      this.#send(batch);
    }
    if (this.#pending.size > 0) this.#flushImmediate ??= setImmediate(() => this.#flush());
  }

  #flush(): void {
    clearImmediate(this.#flushImmediate);
    this.#flushImmediate = undefined;
    const batches = [...this.#pending.values()];
    this.#pending.clear();
    for (const batch of batches) this.#send(batch);
  }

  #send(batch: PendingAck): void {
    const ack: Ack = ackSchema.parse({
      ids: batch.ids,
      status: batch.status,
      ...(batch.reason !== undefined ? { reason: batch.reason } : {}),
      serverTime: this.#now().toISOString(),
    });
    if (this.#ackDelayMs > 0) {
      const timer = setTimeout(() => {
        this.#delayTimers.delete(timer);
        this.#publish(batch.terminalId, ack);
      }, this.#ackDelayMs);
      this.#delayTimers.add(timer);
    } else {
      this.#publish(batch.terminalId, ack);
    }
  }

  #publish(terminalId: string, ack: Ack): void {
    if (this.#dropAck?.(ack, terminalId)) {
      this.#stats.acksDropped += 1;
      return;
    }
    const topic = terminalTopics(terminalId, this.prefix).acks;
    this.#client.publishAsync(topic, JSON.stringify(ack), { qos: 1 }).then(
      () => {
        this.#stats.acksSent += 1;
        this.emit('ack', ack, terminalId);
        this.#checkWaiters();
      },
      (err: unknown) => this.#log.error({ err, topic, ids: ack.ids.length, status: ack.status }, 'province emulator: ack publish failed'),
    );
  }

  /** A terminal asks the time (its clock is not trusted): the answer is an ack naming the probe, with serverTime. */
  #onTimeProbe(terminalId: string, payload: Buffer): void {
    if (!this.#answerTimeProbes) return;
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      body = undefined;
    }
    const probe = timeProbeSchema.safeParse(body);
    if (!probe.success) {
      this.#log.warn({ terminalId, problems: probe.error.issues.map((i) => i.message) }, 'province emulator: not a time probe {"probe": "<id>"}; unanswered');
      return;
    }
    this.#stats.timeProbes += 1;
    this.#publish(terminalId, { ids: [probe.data.probe], status: 'accepted', serverTime: this.#now().toISOString() });
  }

  /** Terminals registered by `hcp provision`, by id. */
  registrations(): Map<string, Registration> {
    return new Map(this.#registrations);
  }

  /** The public key registered (pinned) for a terminal, with which its sealed records are verified. */
  publicKeyOf(terminalId: string): string | undefined {
    return this.#keys.pinned(terminalId);
  }

  /** A different key a terminal brought, not applied: it waits for `approveKey`. */
  pendingKey(terminalId: string): string | undefined {
    return this.#keys.pending(terminalId)?.publicKey;
  }

  /**
   * The operator accepts the key a terminal brought (a replaced Pi, a new key): it is pinned, and
   * the registration that came with it applied. Records it held are accepted when published again.
   */
  approveKey(terminalId: string): boolean {
    const approved = this.#keys.approve(terminalId);
    if (!approved) return false;
    this.#log.info({ terminalId }, 'province emulator: operator approved a new terminal key');
    const registration = registrationSchema.safeParse(approved.with);
    if (registration.success) this.#register(terminalId, registration.data);
    return true;
  }

  /** Every record whose seal was not simply right: refused (bad_signature, broken_chain, malformed), held, or accepted flagged (unsigned, gap). */
  sealReports(): SealReport[] {
    return this.#seals.reports();
  }

  /** The seqs of a terminal's record chain not received (yet): deleted at the source, or still to come. */
  gaps(terminalId: string): Gap[] {
    return this.#seals.gaps(terminalId);
  }

  /**
   * A terminal's state. A provisioning birth registers the terminal (its public key pinned) and,
   * with `registration: 'auto'`, sends its config (what an operator would do); an ordinary birth
   * pins the key of a terminal never registered. A key other than the pinned one changes nothing
   * until the operator approves it (`approveKey`).
   */
  #onState(terminalId: string, payload: Buffer): void {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      return; // an empty retained message clears a state; nothing else reads here
    }
    const registration = registrationSchema.safeParse(body);
    const birth = birthSchema.safeParse(body);
    const publicKey = registration.success ? registration.data.publicKey : birth.success ? birth.data.publicKey : undefined;
    if (publicKey === undefined) return; // a last will, or a birth without a key
    const offered: PendingKey = registration.success ? { publicKey, with: registration.data } : { publicKey };
    if (this.#keys.offer(terminalId, offered) === 'pending') {
      this.#log.warn({ terminalId, publicKey }, 'province emulator: a terminal brought a different key; pending until the operator approves it');
      this.emit('keyPending', terminalId, publicKey);
      return;
    }
    if (registration.success) this.#register(terminalId, registration.data);
  }

  #register(terminalId: string, registration: Registration): void {
    this.#registrations.set(terminalId, registration);
    this.emit('registered', terminalId, registration);
    if (this.#registration === 'auto') void this.publishConfig(terminalId, this.#configForNew);
  }

  /** Publishes a terminal's retained config (e.g. the reason catalogue), as the province does. */
  async publishConfig(terminalId: string, config: ProvinceConfig | string): Promise<void> {
    const payload = typeof config === 'string' ? config : JSON.stringify(config);
    await this.#client.publishAsync(terminalTopics(terminalId, this.prefix).config, payload, { qos: 1, retain: true });
  }

  #checkWaiters(): void {
    for (const waiter of [...this.#waiters]) waiter.check();
  }
}

/** The receiver's supersede rule, shared with the gateway (protocol/supersede.ts). */
export { supersedeRefusal };
