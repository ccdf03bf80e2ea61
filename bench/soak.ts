/*
 * Soak: hours of a hall's traffic compressed into minutes, with faults injected at random from a
 * seeded source, and the one question that matters: was any rating lost or counted twice?
 *
 * Windows (a real bridge each, a virtual terminal on a virtual cable) serve citizens as fast as
 * the simulator allows, through the bridge's HTTP API, until the invitations are made. Meanwhile,
 * one fault at a time: line noise on a serial line (both ways), a terminal reset, a bridge
 * restart, the broker restarting (on its port, its sessions gone), the province emulator
 * restarting (standing in for the gateway: it keeps the ids it accepted, as a database would).
 * Then everything is let settle, and each invitation the desk made is looked for at the
 * province. Memory (RSS, heap) is read before the traffic and after it (and after a GC).
 *
 *   npx tsx --expose-gc bench/soak.ts [--windows 3] [--invitations 300] [--seed 11] [--fault-ms 700]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { UpstreamRecord } from '../protocol/records.js';
import { EmbeddedBroker } from '../simulator/broker.js';
import { ProvinceEmulator } from '../simulator/province.js';
import { between, pick, seededRandom, type Random } from '../simulator/random.js';
import { invitationIdOf, SimWindow } from '../simulator/sim-window.js';
import { waitUntil } from '../simulator/wait.js';
import { emitResult, MB, progress, round, sleep, tempDir, type Figure } from './lib.js';

const { values } = parseArgs({
  options: {
    windows: { type: 'string', default: '3' },
    invitations: { type: 'string', default: '300' },
    seed: { type: 'string', default: '11' },
    /** Mean wall time between faults. */
    'fault-ms': { type: 'string', default: '700' },
    /** Accepted for the runner's sake; the soak has no CPU profile of its own. */
    'profile-dir': { type: 'string' },
  },
});
const windowCount = Number(values.windows);
const total = Number(values.invitations);
const seed = Number(values.seed);
const faultMs = Number(values['fault-ms']);
const scope = `soak ${windowCount}×${Math.ceil(total / windowCount)}`;
/** A window at a busy hall serves about one citizen a minute: what the compressed run stands for. */
const CITIZENS_PER_WINDOW_HOUR = 60;

const FAULTS = ['line noise', 'terminal reset', 'bridge restart', 'broker restart', 'province restart'] as const;
type Fault = (typeof FAULTS)[number];

const tmp = tempDir('soak');
const gc = (globalThis as { gc?: () => void }).gc;
const memory = (): NodeJS.MemoryUsage => {
  gc?.();
  return process.memoryUsage();
};

let broker = await EmbeddedBroker.start({ onError: () => {} });
const brokerPort = broker.port;
const acceptedIds = new Set<string>();
/** Every record each province instance accepted (a restart starts a new list). */
const accepted: UpstreamRecord[] = [];
const startProvince = async (): Promise<ProvinceEmulator> => {
  const p = await ProvinceEmulator.start({ url: broker.url, acceptedIds });
  p.on('record', (record) => accepted.push(record));
  return p;
};
let province = await startProvince();

const windows: SimWindow[] = [];
for (let i = 1; i <= windowCount; i++) {
  windows.push(
    await SimWindow.start({
      brokerUrl: broker.url,
      windowNo: `S${i}`,
      terminalId: `SOAK-T${i}`,
      dbPath: join(tmp.dir, `w${i}.db`),
      // Citizens who do not press make the window wait out the timeout: keep it short.
      config: { invitation: { timeoutSeconds: 2, deviceGraceSeconds: 2 }, mqtt: { url: broker.url, ackTimeoutSeconds: 3, reconnectMaxSeconds: 2 } },
    }),
  );
}
const memoryBefore = memory();
progress(scope, `${windowCount} windows up; seed ${seed}; RSS ${(memoryBefore.rss / MB).toFixed(1)} MB`);

/** The invitations the desk made (its 201s), by window, and whether the citizen pressed. */
const invited: Array<{ window: number; id: string; pressed: boolean }> = [];
const refusals = new Map<string, number>();
let made = 0;
let trafficDone = false;

/** One window's citizens, one after another, as fast as the terminal takes them. */
async function serve(index: number, random: Random): Promise<void> {
  const w = windows[index]!;
  let signedIn = false;
  while (made < total) {
    try {
      if (!signedIn) signedIn = (await w.api('POST', '/api/v1/staff/sign-in', { staffId: `S${index + 1}` })).status < 300;
      const answer = await w.api('POST', '/api/v1/invitations', { services: [{ itemCode: '330106-XK-0012', caseNo: `SOAK-${index}-${made}` }] });
      if (answer.status !== 201) {
        const code = (answer.body as { code?: string }).code ?? String(answer.status);
        refusals.set(code, (refusals.get(code) ?? 0) + 1);
        if (code === 'not_signed_in') signedIn = false;
        await sleep(50);
        continue;
      }
      made += 1;
      const id = invitationIdOf(answer);
      const pressed = random() < 0.9;
      invited.push({ window: index, id, pressed });
      if (pressed) {
        await waitUntil(() => w.terminal.core.state === 'invited' || w.bridge.desk.current()?.id !== id, 'the invitation on the terminal', { timeoutMs: 5000 }).catch(() => undefined);
        await w.terminal.press(Math.floor(random() * 3));
      }
      await waitUntil(() => w.bridge.desk.current()?.id !== id, `invitation ${id} to close`, { timeoutMs: 15_000 });
    } catch (err) {
      // A bridge restarting drops its HTTP server for a moment: the window PC tries again.
      const what = (err as Error).message.slice(0, 40);
      refusals.set(what, (refusals.get(what) ?? 0) + 1);
      signedIn = false;
      await sleep(100);
    }
  }
}

const faultCounts = new Map<Fault, number>(FAULTS.map((f) => [f, 0]));
async function injectFaults(random: Random): Promise<void> {
  while (!trafficDone) {
    await sleep(between(random, faultMs / 2, faultMs * 1.5));
    if (trafficDone) break;
    const fault = pick(random, FAULTS);
    const w = pick(random, windows);
    faultCounts.set(fault, (faultCounts.get(fault) ?? 0) + 1);
    switch (fault) {
      case 'line noise': {
        const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)));
        w.line.injectToBridge(bytes);
        w.line.injectToDevice(bytes);
        break;
      }
      case 'terminal reset':
        await w.rebootTerminal();
        break;
      case 'bridge restart':
        await w.restartBridge();
        break;
      case 'broker restart':
        await broker.stop();
        await sleep(between(random, 100, 800));
        broker = await EmbeddedBroker.start({ port: brokerPort, onError: () => {} });
        // The province's client does not reconnect on its own: it restarts with the broker.
        await province.stop();
        province = await startProvince();
        break;
      case 'province restart':
        await province.stop();
        await sleep(between(random, 100, 800));
        province = await startProvince();
        break;
    }
  }
}

const random = seededRandom(seed);
const started = performance.now();
const faults = injectFaults(seededRandom(seed + 1));
await Promise.all(windows.map((_, i) => serve(i, seededRandom(Math.floor(random() * 2 ** 32)))));
trafficDone = true;
await faults;
const trafficSeconds = (performance.now() - started) / 1000;
progress(scope, `${made} invitations in ${trafficSeconds.toFixed(0)} s; faults ${JSON.stringify(Object.fromEntries(faultCounts))}; settling`);

// Let every outbox empty, then every invitation the desks made must be at the province once.
await waitUntil(() => windows.every((w) => w.bridge.outbox.stats().pending === 0), 'every outbox to be acknowledged', { timeoutMs: 180_000, intervalMs: 100 });
const memoryAfter = memory();
const timesAccepted = new Map<string, number>();
for (const record of accepted) timesAccepted.set(record.id, (timesAccepted.get(record.id) ?? 0) + 1);
const lost = invited.filter(({ id }) => !timesAccepted.has(id));
const twice = [...timesAccepted.values()].filter((n) => n > 1).length;
const byId = new Map(accepted.map((r) => [r.id, r]));
const outcomes = new Map<string, number>();
for (const { id } of invited) {
  const r = byId.get(id);
  const key = r?.kind === 'invitation' ? `${r.outcome}${r.flags.includes('terminal_reset') ? ' (terminal reset)' : ''}` : 'missing';
  outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
}
// A press the terminal took is a rating, unless the terminal was reset before it could report it.
const swallowed = invited.filter(({ id, pressed }) => {
  const r = byId.get(id);
  return pressed && r?.kind === 'invitation' && r.outcome !== 'rated' && !r.flags.includes('terminal_reset');
});
const quarantined = windows.reduce((n, w) => n + w.bridge.outbox.stats().quarantined, 0);

const hours = made / (windowCount * CITIZENS_PER_WINDOW_HOUR);
const figures: Figure[] = [
  { label: `ratings lost (invitations made, not at the province), of ${made}`, value: lost.length, unit: '', target: '0', ok: lost.length === 0 },
  { label: 'records counted twice at the province', value: twice, unit: '', target: '0', ok: twice === 0 },
  { label: 'presses not a rating at the province (no terminal reset)', value: swallowed.length, unit: '', target: '0', ok: swallowed.length === 0 },
  { label: 'records quarantined (rejected)', value: quarantined, unit: '', target: '0', ok: quarantined === 0 },
  {
    label: `RSS after the soak${gc ? ' (after GC)' : ''}`,
    value: round(memoryAfter.rss / MB, 1),
    unit: 'MB',
    baseline: { label: 'before the traffic', value: round(memoryBefore.rss / MB, 1) },
    ratio: round(memoryAfter.rss / memoryBefore.rss, 2),
  },
  {
    label: `JS heap used after the soak${gc ? ' (after GC)' : ''}`,
    value: round(memoryAfter.heapUsed / MB, 1),
    unit: 'MB',
    baseline: { label: 'before the traffic', value: round(memoryBefore.heapUsed / MB, 1) },
    ratio: round(memoryAfter.heapUsed / memoryBefore.heapUsed, 2),
  },
];
emitResult({
  name: 'soak',
  figures,
  notes: [
    `${windowCount} windows, ${made} invitations (about ${hours.toFixed(1)} h of a busy hall at ${CITIZENS_PER_WINDOW_HOUR} citizens a window an hour) in ${trafficSeconds.toFixed(0)} s, seed ${seed}`,
    `faults: ${[...faultCounts].map(([f, n]) => `${f} ${n}`).join(', ')}`,
    `outcomes at the province: ${[...outcomes].map(([o, n]) => `${o} ${n}`).join(', ')}`,
    `refused or failed invitation requests (retried): ${[...refusals].map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}`,
    ...(lost.length ? [`lost: ${lost.slice(0, 5).map((l) => l.id).join(', ')}`] : []),
    ...(swallowed.length ? [`pressed, not rated: ${swallowed.slice(0, 5).map((l) => l.id).join(', ')}`] : []),
    'memory is the whole simulated hall in one process (bridges, terminals, broker, and a province emulator that keeps every record it accepts); bench memory measures a bridge alone',
    ...(gc ? [] : ['memory read without a forced GC (run node with --expose-gc)']),
  ],
  details: { seed, windows: windowCount, made, lost: lost.length, twice, memoryBefore, memoryAfter, faults: Object.fromEntries(faultCounts) },
});

await Promise.allSettled(windows.map((w) => w.stop()));
await province.stop();
await broker.stop();
tmp.remove();
process.exit(0);
