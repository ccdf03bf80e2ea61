import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { hostTimers, type Timers } from '../../protocol/timers.js';
import type { FaultKind } from './state.js';
import type { Phase } from './wire.js';

/**
 * The province's faults, set at run time by tests and the hall view (method API or
 * `POST /_emulator/faults`). One fault of each kind at a time; each lasts for `calls` calls, for
 * `forMs`, or until cleared.
 */

const lasting = {
  /** How many calls it answers, then it clears itself. Default: until cleared. */
  calls: z.int().min(1).max(1_000_000).optional(),
  /** Clears itself after this long. */
  forMs: z.int().min(1).max(7 * 24 * 3600_000).optional(),
  /** Only calls to this endpoint. Default: both. */
  phase: z.enum(['service', 'evaluation']).optional(),
};

export const faultSpecSchema = z.discriminatedUnion('kind', [
  /**
   * closed: every call's connection is closed without an answer (the `/_emulator/` API still
   * answers). refused: the port stops listening (connection refused) until cleared or `forMs`;
   * the `/_emulator/` API is then unreachable too, so over HTTP it must carry `forMs`.
   */
  z.strictObject({ kind: z.literal('down'), mode: z.enum(['closed', 'refused']).default('closed'), ...lasting }).refine((f) => f.mode === 'closed' || (f.calls === undefined && f.phase === undefined), {
    message: 'mode "refused" takes no calls or phase (no call reaches it): use forMs or clear it',
  }),
  /** Answers after `delayMs`; the call is processed first (a client that times out finds it done when it retries). */
  z.strictObject({ kind: z.literal('slow'), delayMs: z.int().min(0).max(600_000), ...lasting }),
  /** An HTTP 5xx; `applied: true` processes the call before failing (a gateway timeout after the commit). */
  z.strictObject({ kind: z.literal('server_error'), status: z.int().min(500).max(599).default(503), applied: z.boolean().default(false), ...lasting }),
  /** HTTP 429 with `Retry-After: retryAfterSeconds`; the call is not processed. */
  z.strictObject({ kind: z.literal('rate_limited'), retryAfterSeconds: z.int().min(0).max(86_400).default(1), ...lasting }),
  /** An answer the client cannot read; the call is processed unless `applied: false`. */
  z.strictObject({
    kind: z.literal('malformed'),
    variant: z.enum(['not_json', 'html', 'wrong_shape', 'truncated', 'empty']).default('not_json'),
    applied: z.boolean().default(true),
    ...lasting,
  }),
]);
export type FaultSpec = z.input<typeof faultSpecSchema>;
export type Fault = z.output<typeof faultSpecSchema>;

export interface ActiveFault {
  fault: Fault;
  /** Calls left, when it lasts for a number of calls. */
  callsLeft: number | undefined;
  /** When it clears itself (ISO), when set with forMs. */
  until: string | undefined;
}

/** What the faults make of one call. */
export interface FaultPlan {
  /** Close the connection without an answer. */
  close: boolean;
  delayMs: number;
  /** The answer a fault gives instead of the province's own, and whether the call is processed first. */
  answer: Extract<Fault, { kind: 'server_error' | 'rate_limited' | 'malformed' }> | undefined;
  /** The faults that applied (for the call's record and the counters). */
  kinds: FaultKind[];
}

interface Entry extends ActiveFault {
  timer: unknown;
}

export class FaultBoard extends EventEmitter<{ change: [] }> {
  readonly #active = new Map<FaultKind, Entry>();
  readonly #timers: Timers;
  readonly #now: () => Date;

  constructor(timers: Timers = hostTimers, now: () => Date = () => new Date()) {
    super();
    this.#timers = timers;
    this.#now = now;
  }

  /** Sets a fault (replacing one of the same kind). Throws a ZodError naming the field when the spec is wrong. */
  set(spec: FaultSpec): ActiveFault {
    const fault = faultSpecSchema.parse(spec);
    this.#drop(fault.kind);
    const entry: Entry = { fault, callsLeft: fault.calls, until: undefined, timer: undefined };
    if (fault.forMs !== undefined) {
      entry.until = new Date(this.#now().getTime() + fault.forMs).toISOString();
      entry.timer = this.#timers.setTimeout(() => {
        if (this.#active.get(fault.kind) === entry) this.clear(fault.kind);
      }, fault.forMs);
    }
    this.#active.set(fault.kind, entry);
    this.emit('change');
    return view(entry);
  }

  /** Clears one kind, or all. */
  clear(kind?: FaultKind): void {
    if (kind) this.#drop(kind);
    else for (const k of [...this.#active.keys()]) this.#drop(k);
    this.emit('change');
  }

  list(): ActiveFault[] {
    return [...this.#active.values()].map(view);
  }

  /** The port should not listen (down, mode refused). */
  get refusing(): boolean {
    const down = this.#active.get('down')?.fault;
    return down?.kind === 'down' && down.mode === 'refused';
  }

  /** What the faults do to one call to `phase` (undefined: an unknown path), counting it off the faults that apply. */
  take(phase: Phase | undefined): FaultPlan {
    const plan: FaultPlan = { close: false, delayMs: 0, answer: undefined, kinds: [] };
    const applies = (kind: FaultKind) => {
      const entry = this.#active.get(kind);
      if (!entry || (entry.fault.phase !== undefined && entry.fault.phase !== phase)) return undefined;
      return entry;
    };
    const use = (entry: Entry) => {
      plan.kinds.push(entry.fault.kind);
      if (entry.callsLeft !== undefined) {
        entry.callsLeft -= 1;
        if (entry.callsLeft <= 0) this.clear(entry.fault.kind);
      }
    };
    const down = applies('down');
    if (down && down.fault.kind === 'down' && down.fault.mode === 'closed') {
      use(down);
      plan.close = true;
      return plan;
    }
    const slow = applies('slow');
    if (slow && slow.fault.kind === 'slow') {
      plan.delayMs = slow.fault.delayMs;
      use(slow);
    }
    // One answer fault per call: a 429 before a 5xx before a garbled answer.
    for (const kind of ['rate_limited', 'server_error', 'malformed'] as const) {
      const entry = applies(kind);
      if (!entry) continue;
      plan.answer = entry.fault as FaultPlan['answer'];
      use(entry);
      break;
    }
    return plan;
  }

  /** Clears every fault's timer (the emulator is stopping). */
  dispose(): void {
    for (const entry of this.#active.values()) if (entry.timer !== undefined) this.#timers.clearTimeout(entry.timer);
    this.#active.clear();
  }

  #drop(kind: FaultKind): void {
    const entry = this.#active.get(kind);
    if (!entry) return;
    if (entry.timer !== undefined) this.#timers.clearTimeout(entry.timer);
    this.#active.delete(kind);
  }
}

const view = (entry: Entry): ActiveFault => ({ fault: entry.fault, callsLeft: entry.callsLeft, until: entry.until });
