/*
 * Press to durable commit: a simulated window (virtual terminal running the real firmware core on
 * johnny-five, virtual serial cable, real bridge with its SQLite outbox, embedded broker, province
 * emulator). Staff signs in; K times: an invitation through the HTTP API, wait until the terminal
 * shows it, then time from the call of terminal.press(i) until the invitation desk's 'closed'
 * event for that invitation, which the desk emits right after the synchronous SQLite commit of the
 * record (WAL, synchronous=FULL). The listener is prepended, so the bridge's own reaction to
 * 'closed' (publishing the record) is not counted.
 *
 * press() drives the button down, holds it about 20 ms and lets go; the firmware core sends the
 * rating on the down edge, so the clock starts at the call and the hold is not in the figure.
 * The time from the call to the core receiving the down edge (johnny-five's pin reporting on the
 * virtual board) is measured separately by wrapping core.buttonEdge.
 *
 * Baseline, interleaved (one after each press, same temp dir, same moment's machine): a bare
 * better-sqlite3 database, WAL + synchronous=FULL, one single-row INSERT per transaction.
 *
 * With --backlog N the bridge's outbox is prefilled with N pending records, so that the presses
 * happen while the uplink drains a backlog (at --drain-rate records/s; the bridge's default is 20,
 * 0 is unlimited): the same figure, measured against invariant 2 (capture never waits on the
 * network).
 *
 *   tsx bench/commit.ts [--k 300] [--warmup 10] [--backlog 0] [--drain-rate 20]
 */
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { v7 as uuidv7 } from 'uuid';
import { EmbeddedBroker } from '../simulator/broker.js';
import { ProvinceEmulator } from '../simulator/province.js';
import { invitationIdOf, SimWindow } from '../simulator/sim-window.js';
import { waitUntil } from '../simulator/wait.js';
import {
  BENCH_IDENTITY,
  benchClock,
  emitResult,
  makeInvitation,
  percentile,
  prefillOutbox,
  profilePhase,
  progress,
  round,
  startProvinceProcess,
  tempDir,
} from './lib.js';

const { values } = parseArgs({
  options: {
    k: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '10' },
    backlog: { type: 'string', default: '0' },
    'drain-rate': { type: 'string', default: '20' },
    /** The uplink window (the bridge's default is 64). */
    inflight: { type: 'string', default: '64' },
    /** Broker and province emulator in a child process (bench/province-process.ts) instead of this one. */
    'province-process': { type: 'boolean', default: false },
    /** Write a CPU profile of the press loop into this directory. */
    'profile-dir': { type: 'string' },
  },
});
const k = Number(values.k);
const warmup = Number(values.warmup);
const backlog = Number(values.backlog);
const drainRate = Number(values['drain-rate']);
const inflight = Number(values.inflight);
const during =
  backlog > 0
    ? `, during a ${backlog.toLocaleString('en')} backlog drain at ${drainRate === 0 ? 'unlimited pace' : `${drainRate}/s`}, inflight ${inflight}${values['province-process'] ? ', province in its own process' : ''}`
    : '';

const tmp = tempDir('commit');
let brokerUrl: string;
let stopProvince: () => Promise<void>;
if (values['province-process']) {
  const child = await startProvinceProcess();
  brokerUrl = child.url;
  stopProvince = () => child.stop();
} else {
  const broker = await EmbeddedBroker.start();
  const province = await ProvinceEmulator.start({ url: broker.url });
  brokerUrl = broker.url;
  stopProvince = async () => {
    await province.stop();
    await broker.stop();
  };
}
let window: SimWindow | undefined;
try {
  const dbPath = join(tmp.dir, 'bridge.db');
  if (backlog > 0) prefillOutbox(dbPath, backlog, 'commit prefill');
  window = await SimWindow.start({
    brokerUrl,
    windowNo: '01',
    terminalId: BENCH_IDENTITY.terminalId,
    dbPath,
    config: { mqtt: { url: brokerUrl, drainRatePerSecond: drainRate, inflight } },
  });
  const w = window;
  const signIn = await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1001' });
  if (signIn.status !== 200) throw new Error(`sign-in: ${signIn.status} ${JSON.stringify(signIn.body)}`);

  // When the firmware core gets a button's down edge (the moment it sends the rating).
  const core = w.terminal.core;
  const edge = core.buttonEdge.bind(core);
  let downEdgeAt = Number.NaN;
  core.buttonEdge = (index: number, down: boolean): void => {
    if (down) downEdgeAt = performance.now();
    edge(index, down);
  };
  // Right after the record's commit, before the bridge's own listener publishes it.
  let waiting: { id: string; resolve(at: number): void } | undefined;
  w.bridge.desk.prependListener('closed', (record) => {
    const at = performance.now();
    if (waiting?.id === record.id) waiting.resolve(at);
  });

  const bare = new Database(join(tmp.dir, 'bare.db'));
  bare.pragma('journal_mode = WAL');
  bare.pragma('synchronous = FULL');
  bare.exec('CREATE TABLE records (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)');
  const insert = bare.prepare('INSERT INTO records (id, body) VALUES (?, ?)');
  const clock = benchClock();

  const total: number[] = [];
  const toEdge: number[] = [];
  const edgeToCommit: number[] = [];
  const baseline: number[] = [];
  // Not in the figure, but where a busy bridge shows: the invitation POST, and until the terminal shows it.
  const postMs: number[] = [];
  const showMs: number[] = [];
  const started = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  await profilePhase(values['profile-dir'], 'commit-presses', async () => {
    for (let i = 0; i < warmup + k; i++) {
      const c0 = performance.now();
      const invited = await w.api('POST', '/api/v1/invitations', {
        services: [{ itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: `C-BENCH-${String(i).padStart(6, '0')}` }],
      });
      const id = invitationIdOf(invited);
      const c1 = performance.now();
      await waitUntil(() => core.state === 'invited', `the terminal to show invitation ${i}`, { intervalMs: 2, timeoutMs: 120_000 });
      const c2 = performance.now();
      const committed = new Promise<number>((resolve) => (waiting = { id, resolve }));
      downEdgeAt = Number.NaN;

      const t0 = performance.now();
      const pressing = w.terminal.press(i % 5);
      const at = await committed;
      await pressing;
      waiting = undefined;

      // The baseline commit, same record size, right after.
      const body = JSON.stringify(makeInvitation(i, clock));
      const b0 = performance.now();
      insert.run(uuidv7(), body);
      const b = performance.now() - b0;

      if (i >= warmup) {
        total.push(at - t0);
        toEdge.push(downEdgeAt - t0);
        edgeToCommit.push(at - downEdgeAt);
        baseline.push(b);
      }
      postMs.push(c1 - c0);
      showMs.push(c2 - c1);
      if ((i + 1) % 50 === 0) progress('commit', `${i + 1} / ${warmup + k} presses (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
  });
  loop.disable();
  bare.close();
  if (backlog === 0) await waitUntil(() => w.bridge.outbox.stats().pending === 0, 'the province to ack every record', { timeoutMs: 30_000 });
  const left = w.bridge.outbox.stats().pending;

  const p = (xs: number[], q: number): number => round(percentile(xs, q), 3);
  const [p50, p99, b50, b99] = [p(total, 50), p(total, 99), p(baseline, 50), p(baseline, 99)];
  emitResult({
    name: 'commit',
    figures: [
      {
        label: `press to durable commit p50 (K=${k}${during})`,
        value: p50,
        unit: 'ms',
        baseline: { label: 'bare single-row commit p50, WAL+FULL', value: b50 },
        ratio: round(p50 / b50, 1),
      },
      {
        label: `press to durable commit p99 (K=${k}${during})`,
        value: p99,
        unit: 'ms',
        baseline: { label: 'bare single-row commit p99, WAL+FULL', value: b99 },
        ratio: round(p99 / b99, 1),
      },
    ],
    notes: [
      `from the call of terminal.press(i) (the core sends the rating on the down edge; the ~20 ms hold is not in the figure) to InvitationDesk 'closed' (emitted right after the commit); ${warmup} warm-up presses not counted`,
      `breakdown p50/p99 ms: call → down edge at the firmware core (johnny-five Button, which debounces 7 ms, on the virtual board) ${p(toEdge, 50)}/${p(toEdge, 99)}; down edge → committed (serial frame over the virtual line, bridge link + desk + SQLite) ${p(edgeToCommit, 50)}/${p(edgeToCommit, 99)}; max total ${round(Math.max(...total), 1)}`,
      `not in the figure, all ${k + warmup} presses, p50/p99/max ms: invitation POST ${p(postMs, 50)}/${p(postMs, 99)}/${round(Math.max(...postMs), 1)}; POST answered → terminal shows it ${p(showMs, 50)}/${p(showMs, 99)}/${round(Math.max(...showMs), 2)}; event loop delay (bridge, terminal${values['province-process'] ? '' : ', broker, province'} share it) p99 ${round(loop.percentile(99) / 1e6, 1)}, max ${round(loop.max / 1e6, 1)}; the presses took ${((performance.now() - started) / 1000).toFixed(1)} s`,
      ...(backlog > 0 ? [`backlog: ${backlog} records prefilled; ${left} still pending after the presses`] : []),
      `baseline: better-sqlite3, WAL + synchronous=FULL, one INSERT of a ${Buffer.byteLength(JSON.stringify(makeInvitation(0, clock)))} B record per transaction, run right after each press in the same temp dir`,
    ],
    details: {
      k,
      warmup,
      backlog,
      drainRate,
      post: { p50: percentile(postMs, 50), p99: percentile(postMs, 99), max: Math.max(...postMs) },
      total,
      toEdge,
      edgeToCommit,
      baseline,
    },
  });
} finally {
  await window?.stop();
  await stopProvince();
  tmp.remove();
}
