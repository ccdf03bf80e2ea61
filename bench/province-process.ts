/*
 * The embedded broker and the province emulator in a process of their own, so that a benchmark
 * measuring the bridge's memory (or CPU) measures only the bridge. The emulator keeps every
 * accepted record in memory (records(), recordsOf()): here that growth stays out of the bridge.
 *
 * Protocol (lines): prints `READY {"url": …}` on stdout once listening; answers `stats` on stdin
 * with `STATS {…}` (province counters, this process's RSS and heap, current and peak); `stop`
 * (or stdin closing) stops everything and exits.
 */
import { createInterface } from 'node:readline';
import { EmbeddedBroker } from '../simulator/broker.js';
import { ProvinceEmulator } from '../simulator/province.js';

const broker = await EmbeddedBroker.start();
const province = await ProvinceEmulator.start({ url: broker.url });

let peakRss = 0;
let peakHeap = 0;
const sample = (): void => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
};
const sampler = setInterval(sample, 100);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(sampler);
  await province.stop();
  await broker.stop();
  process.exit(0);
}

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const command = line.trim();
  if (command === 'stats') {
    sample();
    const m = process.memoryUsage();
    process.stdout.write(`STATS ${JSON.stringify({ stats: province.stats, rss: m.rss, heapUsed: m.heapUsed, peakRss, peakHeap })}\n`);
  } else if (command === 'stop') {
    void stop();
  }
});
input.on('close', () => void stop());

process.stdout.write(`READY ${JSON.stringify({ url: broker.url })}\n`);
