/*
 * The fleet benchmark's load generator: lightweight simulated terminals, each a real MQTT
 * connection (bench/lean-mqtt.ts, 3.1.1 as the bridge connects), publishing its sealed records QoS 1 on
 * `…/<id>/records` with an inflight window per terminal like the bridge's uplink (a record not
 * acknowledged within the ack timeout is published again), and reading its acks on `…/acks`.
 * Runs in worker threads (startFleetLoad), each holding a share of the terminals, so that one
 * event loop does not carry every socket. Latency: from a record's first publish to the ack
 * (accepted or duplicate) that settles it, as the terminal sees it.
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads';
import { terminalTopics } from '../protocol/topics.js';
import { readFleetRecords } from './fleet-cache.js';
import { startModuleWorker } from '../gateway/ingest/module-worker.js';
import { LeanMqttClient } from './lean-mqtt.js';

const JOB = 'hcp-fleet-load';

export interface LoadOptions {
  url: string;
  cachePath: string;
  /** Records in flight per terminal (the bridge's mqtt.inflight, default 64). */
  window: number;
  /** Not acked within this: published again (the bridge's mqtt.ackTimeoutSeconds, default 30 s). */
  ackTimeoutMs: number;
  /** Connections being opened at once, per worker. */
  connectConcurrency: number;
  /** A prefix for the client ids, unique per run (a broker takes over a session with the same id). */
  clientPrefix: string;
  /**
   * Offered load, records/s over the whole fleet (shared evenly by the workers), the terminals
   * taking turns; 0: each terminal publishes as fast as its window allows (the backlog drain).
   */
  ratePerSecond: number;
}

interface Job extends LoadOptions {
  job: typeof JOB;
  share: number;
  shares: number;
}

/** What a worker has done so far (cumulative). */
export interface LoadCounts {
  terminals: number;
  records: number;
  published: number;
  republished: number;
  acked: number;
  /** Acks status duplicate that settled an awaited record. */
  duplicateAcks: number;
  /** Records acked rejected (none should be). */
  rejected: number;
  /** Ids in acks no terminal awaited (a late ack of a republished record, already settled). */
  unexpected: number;
  reconnects: number;
}

type ToMain =
  | { type: 'connected'; counts: LoadCounts; connectMs: number }
  | { type: 'progress'; counts: LoadCounts }
  | { type: 'done'; counts: LoadCounts; latencies: Float64Array; rejectReasons: string[] }
  | { type: 'failed'; error: string };
type ToWorker = { type: 'go' } | { type: 'close' };

export interface FleetLoad {
  /** Every terminal of every worker connected and subscribed to its acks. */
  connected: Promise<{ counts: LoadCounts; connectMs: number }>;
  /** Starts publishing; resolves once every record is settled, with the latencies (ms) of all. */
  go(onProgress: (counts: LoadCounts) => void): Promise<{ counts: LoadCounts; latencies: Float64Array; rejectReasons: string[] }>;
  /** Closes the connections and the workers. */
  close(): Promise<void>;
}

export function sumCounts(all: readonly LoadCounts[]): LoadCounts {
  const sum: LoadCounts = { terminals: 0, records: 0, published: 0, republished: 0, acked: 0, duplicateAcks: 0, rejected: 0, unexpected: 0, reconnects: 0 };
  for (const c of all) for (const key of Object.keys(sum) as (keyof LoadCounts)[]) sum[key] += c[key];
  return sum;
}

/** Starts `workers` load workers, each connecting its share of the cached terminals. */
export function startFleetLoad(options: LoadOptions, workers: number): FleetLoad {
  const threads: Worker[] = Array.from({ length: workers }, (_, share) =>
    startModuleWorker(new URL(import.meta.url), { workerData: { ...options, job: JOB, share, shares: workers } satisfies Job }),
  );
  const latest: LoadCounts[] = threads.map(() => sumCounts([]));
  const failed = new Promise<never>((_, reject) => {
    for (const thread of threads) {
      thread.on('error', reject);
      thread.on('message', (m: ToMain) => m.type === 'failed' && reject(new Error(`fleet load worker: ${m.error}`)));
    }
  });
  failed.catch(() => undefined);
  const nextOf = <T extends ToMain['type']>(type: T): Promise<Extract<ToMain, { type: T }>[]> =>
    Promise.race([
      Promise.all(threads.map(async (thread) => {
        for (;;) {
          const [m] = (await once(thread, 'message')) as [ToMain];
          if (m.type === type) return m as Extract<ToMain, { type: T }>;
        }
      })),
      failed,
    ]);
  const connected = nextOf('connected').then((all) => ({ counts: sumCounts(all.map((m) => m.counts)), connectMs: Math.max(...all.map((m) => m.connectMs)) }));
  return {
    connected,
    go: async (onProgress) => {
      threads.forEach((thread, i) =>
        thread.on('message', (m: ToMain) => {
          if (m.type !== 'progress') return;
          latest[i] = m.counts;
          if (i === 0) onProgress(sumCounts(latest));
        }),
      );
      const done = nextOf('done');
      for (const thread of threads) thread.postMessage({ type: 'go' } satisfies ToWorker);
      const all = await done;
      const latencies = new Float64Array(all.reduce((n, m) => n + m.latencies.length, 0));
      let at = 0;
      for (const m of all) {
        latencies.set(m.latencies, at);
        at += m.latencies.length;
      }
      return { counts: sumCounts(all.map((m) => m.counts)), latencies, rejectReasons: all.flatMap((m) => m.rejectReasons) };
    },
    close: async () => {
      for (const thread of threads) thread.postMessage({ type: 'close' } satisfies ToWorker);
      await Promise.all(threads.map((thread) => once(thread, 'exit')));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// In a worker

interface Inflight {
  index: number;
  firstAt: number;
  sentAt: number;
}

class SimTerminal {
  readonly topics: ReturnType<typeof terminalTopics>;
  client!: LeanMqttClient;
  next = 0;
  settled = 0;
  /** Counted among the finished terminals. */
  counted = false;
  readonly inflight = new Map<string, Inflight>();

  constructor(
    readonly id: string,
    readonly records: [string, string][],
  ) {
    this.topics = terminalTopics(id);
  }

  get done(): boolean {
    return this.settled === this.records.length;
  }
}

async function runWorker(job: Job): Promise<void> {
  const port = parentPort!;
  const post = (m: ToMain): void => port.postMessage(m);
  const terminals: SimTerminal[] = [];
  for await (const t of readFleetRecords(job.cachePath, job.share, job.shares)) terminals.push(new SimTerminal(t.terminalId, t.records));
  const counts: LoadCounts = { terminals: terminals.length, records: terminals.reduce((n, t) => n + t.records.length, 0), published: 0, republished: 0, acked: 0, duplicateAcks: 0, rejected: 0, unexpected: 0, reconnects: 0 };
  const latencies = new Float64Array(counts.records);
  const rejectReasons: string[] = [];
  let going = false;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let remaining = terminals.length;

  const send = (t: SimTerminal, entry: Inflight): void => {
    t.client.publish(t.topics.records, t.records[entry.index]![1]);
  };
  const publishNext = (t: SimTerminal): void => {
    const index = t.next++;
    const id = t.records[index]![0];
    const now = performance.now();
    const entry = { index, firstAt: now, sentAt: now };
    t.inflight.set(id, entry);
    send(t, entry);
    counts.published += 1;
  };
  const canPublish = (t: SimTerminal): boolean => t.client.ready && t.inflight.size < job.window && t.next < t.records.length;
  const paced = job.ratePerSecond > 0;
  const pump = (t: SimTerminal): void => {
    if (!going || paced) return;
    while (canPublish(t)) publishNext(t);
  };
  // Paced: every 20 ms this worker's share of the rate, the terminals taking turns.
  const PACE_TICK_MS = 20;
  const perTick = (job.ratePerSecond / job.shares) * (PACE_TICK_MS / 1000);
  let budget = 0;
  let turn = 0;
  const pace = (): void => {
    if (!going) return;
    budget = Math.min(budget + perTick, Math.max(1, 5 * perTick));
    let looked = 0;
    while (budget >= 1 && looked < terminals.length) {
      const t = terminals[turn]!;
      turn = (turn + 1) % terminals.length;
      looked += 1;
      if (!canPublish(t)) continue;
      publishNext(t);
      budget -= 1;
      looked = 0;
    }
  };
  const pacer = paced ? setInterval(pace, PACE_TICK_MS) : undefined;
  const onAck = (t: SimTerminal, payload: Buffer): void => {
    const now = performance.now();
    let ack: { ids?: unknown; status?: unknown; reason?: unknown };
    try {
      ack = JSON.parse(payload.toString('utf8')) as typeof ack;
    } catch {
      return;
    }
    if (!Array.isArray(ack.ids)) return;
    for (const id of ack.ids as string[]) {
      const entry = t.inflight.get(id);
      if (!entry) {
        counts.unexpected += 1;
        continue;
      }
      t.inflight.delete(id);
      if (ack.status === 'rejected') {
        counts.rejected += 1;
        if (rejectReasons.length < 20) rejectReasons.push(`${t.id} ${id}: ${String(ack.reason)}`);
      } else {
        if (ack.status === 'duplicate') counts.duplicateAcks += 1;
        latencies[counts.acked] = now - entry.firstAt;
        counts.acked += 1;
      }
      t.settled += 1;
    }
    if (!t.done) pump(t);
    else if (!t.counted) {
      // Once per terminal: a late ack (of a record published again) comes after it is done.
      t.counted = true;
      if (--remaining === 0) finish();
    }
  };

  const started = performance.now();
  const broker = new URL(job.url);
  const connectOne = async (t: SimTerminal): Promise<void> => {
    let first = true;
    t.client = new LeanMqttClient({
      host: broker.hostname,
      port: Number(broker.port || 1883),
      clientId: `${job.clientPrefix}-${t.id}`,
      subscribe: t.topics.acks,
      reconnectMs: 1000,
      onMessage: (_topic, payload) => onAck(t, payload),
      onReady: () => {
        if (first) {
          first = false;
          return;
        }
        counts.reconnects += 1;
        // A new session: what is in flight goes again when overdue (the republisher below).
        pump(t);
      },
    });
    await t.client.open();
  };
  const queue = [...terminals];
  await Promise.all(
    Array.from({ length: Math.min(job.connectConcurrency, queue.length) }, async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        await connectOne(t);
      }
    }),
  );
  post({ type: 'connected', counts: { ...counts }, connectMs: performance.now() - started });

  const closeAll = async (): Promise<void> => {
    await Promise.all(terminals.map((t) => t.client.close()));
  };
  port.on('message', (m: ToWorker) => {
    if (m.type === 'go') {
      going = true;
      if (terminals.length === 0) finish();
      for (const t of terminals) pump(t);
    } else if (m.type === 'close') {
      void closeAll().then(() => process.exit(0));
    }
  });

  // The bridge's republishing: every half ack timeout, what is overdue goes again.
  const republisher = setInterval(() => {
    if (!going) return;
    const deadline = performance.now() - job.ackTimeoutMs;
    for (const t of terminals) {
      if (!t.client.ready) continue;
      for (const entry of t.inflight.values()) {
        if (entry.sentAt > deadline) continue;
        entry.sentAt = performance.now();
        send(t, entry);
        counts.republished += 1;
      }
    }
  }, Math.max(50, Math.min(job.ackTimeoutMs / 2, 5000)));
  const reporter = setInterval(() => post({ type: 'progress', counts: { ...counts } }), 1000);
  await finished;
  clearInterval(pacer);
  clearInterval(republisher);
  clearInterval(reporter);
  post({ type: 'done', counts: { ...counts }, latencies: latencies.subarray(0, counts.acked), rejectReasons });
}

if (!isMainThread && parentPort !== null && isJob(workerData)) {
  runWorker(workerData).catch((err: unknown) => parentPort?.postMessage({ type: 'failed', error: (err as Error).stack ?? String(err) } satisfies ToMain));
}

function isJob(data: unknown): data is Job {
  return typeof data === 'object' && data !== null && (data as Job).job === JOB;
}
