import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GRADE_INFO, gradeCode } from '../../protocol/grades.js';
import { SimulatedHall, type HallActivity } from '../../simulator/hall.js';
import { createLogger } from '../log.js';
import { untilSignal } from './run.js';

export interface StartOptions {
  windows: number;
  seed: number;
  duration: number;
  timeout: number;
  brokerPort: number;
  httpPort: number;
  dataDir?: string;
}

const STATUS_EVERY_MS = 10_000;
const time = (): string => new Date().toTimeString().slice(0, 8);
const line = (windowNo: string, what: string, text: string): void => console.log(`${time()}  ${windowNo}  ${what.padEnd(9)} ${text}`);

/** `hcp start`: a simulated service hall with a live view of what happens in it. */
export async function startHallCommand(options: StartOptions): Promise<void> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hcp-hall-'));
  console.log(`hcp start: a simulated service hall with ${options.windows} windows (seed ${options.seed})`);
  const hall = await SimulatedHall.start({
    windows: options.windows,
    dataDir,
    seed: options.seed,
    timeoutSeconds: options.timeout,
    brokerPort: options.brokerPort,
    httpPort: options.httpPort,
    logger: createLogger('warn', 2),
  });
  console.log(`  broker     ${hall.broker.url} (embedded)`);
  console.log(`  province   emulator reading ${hall.province.prefix}/+/records`);
  for (const w of hall.windows) {
    const { device } = w.bridge.status();
    console.log(`  ${w.windowNo}        terminal ${device.device?.serial} (firmware ${device.device?.fw}) on ${device.path}; HTTP API ${w.bridge.httpUrl}`);
  }
  console.log(`  databases  ${dataDir}`);
  console.log(options.duration ? `Running for ${options.duration} s.\n` : 'Press Ctrl-C to stop.\n');

  hall.on('activity', (activity) => describe(activity));
  const status = setInterval(() => printStatus(hall), STATUS_EVERY_MS);
  const stopSignal = options.duration
    ? new Promise<void>((resolve) => setTimeout(resolve, options.duration * 1000))
    : untilSignal();
  await stopSignal;
  clearInterval(status);
  console.log('\nstopping…');
  printStatus(hall);
  printSummary(hall);
  await hall.stop();
  if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
}

function describe(activity: HallActivity): void {
  switch (activity.kind) {
    case 'invited': {
      const { services, staffId, mode } = activity.invitation;
      const what = services.map((s) => `${s.itemName ?? s.itemCode} case ${s.caseNo}`).join(', ');
      return line(activity.windowNo, 'invite', `${mode === 'single' ? '' : `[${mode}] `}${what}  staff ${staffId}`);
    }
    case 'closed': {
      const { record } = activity;
      if (record.rating) {
        const { grade, latencyMs } = record.rating;
        return line(activity.windowNo, 'rated', `${GRADE_INFO[grade].zh} (code ${gradeCode(grade, 'provincial-5-high')}) after ${(latencyMs / 1000).toFixed(1)} s`);
      }
      return line(activity.windowNo, record.outcome === 'not_rated' ? 'not rated' : record.outcome, record.flags.length ? `flags: ${record.flags.join(', ')}` : 'invitation timed out');
    }
    case 'event':
      return line(activity.windowNo, 'event', activity.event.type === 'stray_press' ? `stray press (${String(activity.event.detail.grade)}), no invitation open` : activity.event.type);
    case 'acked':
      return line(activity.windowNo, 'acked', `${activity.ack.ids.length} record(s) ${activity.ack.status} by the province`);
    case 'frameRejected':
      return line(activity.windowNo, 'serial', `frame dropped (${activity.reason}): ${activity.detail}`);
    case 'broker':
      return line(activity.windowNo, 'broker', activity.state);
  }
}

function printStatus(hall: SimulatedHall): void {
  const windows = hall.windows.map((w) => {
    const s = w.bridge.status();
    return `${w.windowNo} ${s.device.alive ? 'link up' : 'LINK DOWN'}, ${s.broker.connected ? 'broker up' : 'BROKER DOWN'}, backlog ${s.backlog.pending}`;
  });
  const p = hall.province.stats;
  console.log(`-- ${time()}  ${windows.join(' | ')}  || province: ${p.accepted} accepted, ${p.duplicates} duplicates, ${p.rejected} rejected`);
}

function printSummary(hall: SimulatedHall): void {
  const records = hall.province.records().filter((r) => r.kind === 'invitation');
  const rated = records.filter((r) => r.kind === 'invitation' && r.outcome === 'rated').length;
  const share = records.length ? Math.round((rated / records.length) * 100) : 0;
  console.log(`province received ${records.length} invitations, ${rated} rated: participation ${share}% (参评率)`);
}
