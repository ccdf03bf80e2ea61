/*
 * Backlog drain: a real Bridge drains a prefilled outbox to the province emulator (records/s until
 * the province's acknowledgement has cleared the outbox), against raw pipelined QoS 1 publishing
 * of the same payloads with mqtt.js, until the broker's PUBACKs. Broker: the embedded aedes broker,
 * a fresh one (with a fresh province emulator) for every run; all in this process.
 *
 *   tsx bench/drain.ts [--n 100000] [--inflight 128,512,1000] [--raw-window 1000]
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadTerminalIdentity } from '../bridge/identity/terminal-key.js';
import { silentLogger } from '../bridge/log.js';
import { EmbeddedBroker } from '../simulator/broker.js';
import { ProvinceEmulator } from '../simulator/province.js';
import {
  drainThroughBridge,
  profilePhase,
  emitResult,
  mean,
  prefillOutbox,
  progress,
  rawPublish,
  storedPayloads,
  round,
  tempDir,
  type DrainTiming,
  type RawTiming,
} from './lib.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    inflight: { type: 'string', default: '128,512,1000' },
    'raw-window': { type: 'string', default: '1000' },
    /** Write a CPU profile of each bridge drain phase (only that phase) into this directory. */
    'profile-dir': { type: 'string' },
  },
});
const n = Number(values.n);
const inflights = values.inflight.split(',').map(Number);
const rawWindow = Number(values['raw-window']);
if (!(n > 0) || inflights.some((v) => !(v >= 1 && v <= 1000)) || !(rawWindow >= 1 && rawWindow < 65_000)) {
  throw new Error('drain: --n > 0, --inflight values 1..1000, --raw-window 1..64999');
}

async function withProvince<T>(run: (url: string, province: ProvinceEmulator) => Promise<T>): Promise<T> {
  const broker = await EmbeddedBroker.start();
  const province = await ProvinceEmulator.start({ url: broker.url });
  try {
    return await run(broker.url, province);
  } finally {
    await province.stop();
    await broker.stop();
  }
}

const tmp = tempDir('drain');
try {
  const master = join(tmp.dir, 'master.db');
  const prefill = prefillOutbox(master, n, 'drain prefill');
  progress('drain', `prefilled ${n.toLocaleString('en')} records in ${(prefill.ms / 1000).toFixed(1)} s (${(prefill.dbBytes / 1024 / 1024).toFixed(0)} MB)`);
  const payloads = storedPayloads(master);
  const birth = JSON.stringify({ online: true, publicKey: loadTerminalIdentity({ database: { path: master } }, silentLogger).publicKey });
  const payloadBytes = mean(payloads.slice(0, 1000).map((p) => Buffer.byteLength(p)));

  const raws: RawTiming[] = [];
  const runRaw = async (label: string): Promise<void> => {
    const raw = await withProvince(async (url, province) => {
      const timing = await rawPublish({ url, payloads, window: rawWindow, scope: `drain raw ${label}`, birth });
      return { ...timing, accepted: province.stats.accepted };
    });
    progress('drain', `raw mqtt.js (${label}): ${n} QoS 1 publishes in ${(raw.ms / 1000).toFixed(2)} s = ${Math.round((n / raw.ms) * 1000)}/s`);
    raws.push(raw);
  };

  // Raw before and after the bridge runs: the machine is shared, the two bracket the bridge.
  await runRaw('before');
  const drains: (DrainTiming & { accepted: number; duplicates: number })[] = [];
  for (const inflight of inflights) {
    const dbPath = join(tmp.dir, `bridge-${inflight}.db`);
    copyFileSync(master, dbPath);
    const drained = await withProvince(async (brokerUrl, province) => {
      const timing = await profilePhase(values['profile-dir'], `drain-bridge-inflight-${inflight}`, () =>
        drainThroughBridge({ dbPath, brokerUrl, n, inflight, scope: `drain inflight=${inflight}` }),
      );
      return { ...timing, accepted: province.stats.accepted, duplicates: province.stats.duplicates };
    });
    if (drained.accepted !== n) throw new Error(`drain: the province accepted ${drained.accepted} of ${n}`);
    progress('drain', `bridge inflight=${inflight}: ${n} records to province ack in ${(drained.doneMs / 1000).toFixed(2)} s = ${Math.round((n / drained.doneMs) * 1000)}/s`);
    drains.push(drained);
  }
  await runRaw('after');

  const rate = (count: number, ms: number): number => (count / ms) * 1000;
  const best = drains.reduce((a, b) => (rate(b.n, b.doneMs) > rate(a.n, a.doneMs) ? b : a));
  const rawRate = mean(raws.map((r) => rate(r.n, r.ms)));
  const rawMs = mean(raws.map((r) => r.ms));
  const bridgeRate = rate(best.n, best.doneMs);
  const ratio = bridgeRate / rawRate;
  const pubRate = rate(best.n, best.doneMs - best.connectedMs);

  emitResult({
    name: 'drain',
    figures: [
      {
        label: `backlog drain to province ack, records/s (N=${n}, inflight ${best.inflight})`,
        value: round(bridgeRate, 0),
        unit: '/s',
        baseline: { label: 'raw mqtt.js QoS 1 to PUBACK', value: round(rawRate, 0) },
        ratio: round(ratio, 3),
        target: '≥ 0.5',
        ok: ratio >= 0.5,
      },
      {
        label: `time until the last ack (end to end), N=${n}`,
        value: round(best.doneMs, 0),
        unit: 'ms',
        baseline: { label: 'raw: first publish to last PUBACK', value: round(rawMs, 0) },
        ratio: round(best.doneMs / rawMs, 3),
      },
    ],
    notes: [
      `payload ${Math.round(payloadBytes)} B/record (real upstream JSON); raw window ${rawWindow} publishes in flight; broker: embedded aedes, fresh with a fresh province emulator per run, same process`,
      `raw runs: ${raws.map((r) => `${Math.round(rate(r.n, r.ms))}/s`).join(' before, ')} after the bridge runs (the baseline is their mean)`,
      `bridge by inflight: ${drains.map((d) => `${d.inflight} → ${Math.round(rate(d.n, d.doneMs))}/s (${(d.doneMs / 1000).toFixed(1)} s, ${d.ackMessages} acks, ${d.duplicates} dup)`).join('; ')}; best: ${best.inflight}`,
      `bridge timeline (inflight ${best.inflight}): start() resolved ${round(best.startedMs, 0)} ms, broker connected ${round(best.connectedMs, 0)} ms, first ack ${round(best.firstAckMs, 0)} ms, outbox empty ${round(best.doneMs, 0)} ms; from connect: ${Math.round(pubRate)}/s (ratio ${round(pubRate / rawRate, 3)})`,
      `bridge (inflight ${best.inflight}): ${best.ackMessages} ack messages = ${(best.ackedIds / best.ackMessages).toFixed(1)} ids/ack; event loop stalls while draining (a 50 ms timer's lateness) p50 ${best.stallMs.p50.toFixed(0)} ms, p99 ${best.stallMs.p99.toFixed(0)} ms, max ${best.stallMs.max.toFixed(0)} ms (bridge, broker and province share this thread)`,
      `prefill: ${n} records via Outbox.append in 10k transactions, ${(prefill.ms / 1000).toFixed(1)} s`,
    ],
    details: { n, payloadBytes, raws, drains, prefill },
  });
} finally {
  tmp.remove();
}
