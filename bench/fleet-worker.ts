/*
 * The records of many bench terminals, made in parallel by worker threads (startModuleWorker runs
 * this module in each, through tsx as the benchmarks run).
 */
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { startModuleWorker } from '../gateway/ingest/module-worker.js';
import { benchTerminalKey, makeTerminalRecords, type FleetRecord, type TerminalRecordsOptions } from './fleet-baseline.js';

const JOB = 'hcp-fleet-records';

interface Job {
  /** Marks this module's own job: another worker importing this file (for startModuleWorker) is left alone. */
  job: typeof JOB;
  terminals: string[];
  perTerminal: number;
  options: TerminalRecordsOptions;
}

/**
 * The sealed records of each terminal (`perTerminal` each, keys from benchTerminalKey), made by
 * `workers` threads (default: one per core), in the order of `terminals`.
 */
export async function generateFleetRecords(
  terminals: readonly string[],
  perTerminal: number,
  { workers = availableParallelism(), options = {} }: { workers?: number; options?: TerminalRecordsOptions } = {},
): Promise<Map<string, FleetRecord[]>> {
  const count = Math.max(1, Math.min(workers, terminals.length));
  const shares = Array.from({ length: count }, (_, w) => terminals.filter((_, i) => i % count === w));
  const parts = await Promise.all(
    shares.map(async (share) => {
      const worker = startModuleWorker(new URL(import.meta.url), { workerData: { job: JOB, terminals: share, perTerminal, options } satisfies Job });
      try {
        const [made] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([err]) => Promise.reject(err as Error))])) as [[string, FleetRecord[]][]];
        return made;
      } finally {
        await worker.terminate();
      }
    }),
  );
  const byTerminal = new Map(parts.flat());
  return new Map(terminals.map((id) => [id, byTerminal.get(id) ?? []]));
}

// In a worker started by generateFleetRecords: make the share's records and post them back.
if (!isMainThread && parentPort !== null && isJob(workerData)) {
  const job = workerData;
  parentPort.postMessage(job.terminals.map((id) => [id, makeTerminalRecords(id, job.perTerminal, benchTerminalKey(id), job.options)]));
}

function isJob(data: unknown): data is Job {
  return typeof data === 'object' && data !== null && (data as Job).job === JOB;
}
