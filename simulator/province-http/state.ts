import type { EvaluationBody, Phase, ProvinceAnswer, RefusalReason, ServiceBody } from './wire.js';
import { REFUSAL_REASONS } from './wire.js';

/** What the province keeps: the services and evaluations it accepted, the calls it saw, its counters. */

export type FaultKind = 'down' | 'slow' | 'server_error' | 'rate_limited' | 'malformed';
export const FAULT_KINDS: readonly FaultKind[] = ['down', 'slow', 'server_error', 'rate_limited', 'malformed'];

export interface StoredService {
  /** When it was first accepted (the injected clock, ISO). */
  at: string;
  appMark: string;
  body: ServiceBody;
  /** How many times it was pushed and accepted (more than 1: pushed again, answered success). */
  pushes: number;
}

export interface StoredEvaluation {
  at: string;
  appMark: string;
  body: EvaluationBody;
}

/** One call as the province saw it, refused and faulted ones included. */
export interface ReceivedCall {
  seq: number;
  at: string;
  method: string;
  /** The path, shortened when long. */
  path: string;
  phase: Phase | undefined;
  appMark: string | undefined;
  /** What the province did with it; `faulted`: nothing, a fault answered before it was read. */
  outcome: 'accepted' | 'duplicate' | 'refused' | 'faulted';
  /** Why it was refused. */
  reason: RefusalReason | undefined;
  /** The faults that shaped the answer (a slow or malformed answer follows a call that was processed). */
  faults: FaultKind[];
  /** The HTTP status answered (0: the connection was closed without an answer). */
  http: number;
  answer: ProvinceAnswer | undefined;
}

export interface ProvinceHttpStats {
  /** Every request on the interface's two paths and unknown paths (the `/_emulator/` API not counted). */
  calls: number;
  accepted: Record<Phase, number>;
  /** Pushed again: a service (answered success) or an evaluation with the same projectNo and assessNumber (answered 本次服务已存在评价). */
  duplicates: Record<Phase, number>;
  refused: Record<RefusalReason, number>;
  /** Calls a fault shaped, by fault (a slow or malformed one is also counted by its outcome). */
  faulted: Record<FaultKind, number>;
  /** Requests to the `/_emulator/` API it refused (unknown view, not a fault). */
  adminRefused: number;
  /** Ratings made on its own rating page (pf 3), kept with the evaluations but not calls. */
  pageRatings: number;
}

const zeroes = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/** Most calls kept in `received` (the counters keep counting): a simulated day must not fill memory. */
export const DEFAULT_RECEIVED_LIMIT = 10_000;

/**
 * The province's memory. Pass the same ledger to an emulator started after a stop to play a
 * province that restarts with its database intact.
 */
export class ProvinceLedger {
  readonly #services = new Map<string, StoredService>();
  readonly #serviceOrder: StoredService[] = [];
  readonly #evaluations: StoredEvaluation[] = [];
  readonly #evaluationKeys = new Set<string>();
  readonly #received: ReceivedCall[] = [];
  readonly #receivedLimit: number;
  #seq = 0;
  readonly stats: ProvinceHttpStats = {
    calls: 0,
    accepted: { service: 0, evaluation: 0 },
    duplicates: { service: 0, evaluation: 0 },
    refused: zeroes(REFUSAL_REASONS),
    faulted: zeroes(FAULT_KINDS),
    adminRefused: 0,
    pageRatings: 0,
  };

  constructor(receivedLimit = DEFAULT_RECEIVED_LIMIT) {
    this.#receivedLimit = Math.max(1, receivedLimit);
  }

  /** Accepted services, in arrival order. */
  get services(): readonly StoredService[] {
    return this.#serviceOrder;
  }

  /** Accepted evaluations, in arrival order. */
  get evaluations(): readonly StoredEvaluation[] {
    return this.#evaluations;
  }

  /** The latest calls (at most the limit), in arrival order. */
  get received(): readonly ReceivedCall[] {
    return this.#received;
  }

  service(projectNo: string): StoredService | undefined {
    return this.#services.get(projectNo);
  }

  hasEvaluation(projectNo: string, assessNumber: number): boolean {
    return this.#evaluationKeys.has(evaluationKey(projectNo, assessNumber));
  }

  addService(service: StoredService): void {
    const known = this.#services.get(service.body.projectNo);
    if (known) {
      known.pushes += 1;
      return;
    }
    this.#services.set(service.body.projectNo, service);
    this.#serviceOrder.push(service);
  }

  addEvaluation(evaluation: StoredEvaluation): void {
    this.#evaluationKeys.add(evaluationKey(evaluation.body.projectNo, evaluation.body.assessNumber));
    this.#evaluations.push(evaluation);
  }

  /** Records a call and counts it. */
  record(call: Omit<ReceivedCall, 'seq'>): ReceivedCall {
    this.#seq += 1;
    const entry = { seq: this.#seq, ...call };
    this.#received.push(entry);
    if (this.#received.length > this.#receivedLimit) this.#received.splice(0, this.#received.length - this.#receivedLimit);
    this.stats.calls += 1;
    for (const fault of call.faults) this.stats.faulted[fault] += 1;
    if (call.outcome === 'refused' && call.reason) this.stats.refused[call.reason] += 1;
    if (call.phase && call.outcome === 'accepted') this.stats.accepted[call.phase] += 1;
    if (call.phase && call.outcome === 'duplicate') this.stats.duplicates[call.phase] += 1;
    return entry;
  }
}

const evaluationKey = (projectNo: string, assessNumber: number) => `${assessNumber} ${projectNo}`;
