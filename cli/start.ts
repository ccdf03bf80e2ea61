import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_GRADE_CODE_PROFILE, GRADE_INFO, gradeCode, gradeSchema, type GradeCodeProfileName } from '../protocol/grades.js';
import { portOrFree } from '../simulator/free-port.js';
import { SimulatedHall, type HallActivity } from '../simulator/hall.js';
import type { ReceivedMessage } from '../simulator/webhook-receiver.js';
import { startHallView, type HallView } from '../simulator/hall-view.js';
import type { ProvinceHttpStats } from '../simulator/province-http/state.js';
import { createLogger } from '../bridge/log.js';
import { untilSignal } from './run.js';

export interface StartOptions {
  windows: number;
  seed: number;
  duration: number;
  timeout: number;
  brokerPort: number;
  httpPort: number;
  /** The live hall view page; 0: any free port. */
  viewPort: number;
  /** The province emulator's port (default: any free one). */
  provincePort?: number;
  /** The rate-later page's port (default: any free one). */
  rateLaterPort?: number;
  /** The managers' dashboard; taken by another program: any free port. */
  dashboardPort: number;
  /** Window 1's customer screen (window n: + n - 1); 0: any free port. */
  screenPort: number;
  dataDir?: string;
}

const STATUS_EVERY_MS = 10_000;
const time = (): string => new Date().toTimeString().slice(0, 8);
const line = (windowNo: string, what: string, text: string): void => console.log(`${time()}  ${windowNo}  ${what.padEnd(9)} ${text}`);

/** `hcp start`: a simulated service hall, its gateway, and a live view of what happens in it. */
export async function startHallCommand(options: StartOptions): Promise<void> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hcp-hall-'));
  console.log(`hcp start: a simulated service hall with ${options.windows} windows (seed ${options.seed})`);
  const dashboardPort = await portOrFree(options.dashboardPort);
  if (dashboardPort.fellBack) console.log(`  (port ${options.dashboardPort} is in use: the dashboard takes a free port; choose one with --dashboard-port)`);
  const hall = await SimulatedHall.start({
    dashboardPort: dashboardPort.port,
    windows: options.windows,
    dataDir,
    seed: options.seed,
    timeoutSeconds: options.timeout,
    brokerPort: options.brokerPort,
    httpPort: options.httpPort,
    screenPort: options.screenPort,
    ...(options.provincePort !== undefined && { provincePort: options.provincePort }),
    ...(options.rateLaterPort !== undefined && { rateLaterPort: options.rateLaterPort }),
    logger: createLogger('warn', 2),
  });
  console.log(`  broker     ${hall.broker.url} (embedded)`);
  const gateway = hall.gateway.status();
  console.log(`  gateway    ${gateway.instance}: ${gateway.broker.subscriptions.join(', ')} into the embedded database (${join(dataDir, 'gateway-db')}); admin API ${hall.gateway.adminUrl}`);
  for (const text of chainLines(hall)) console.log(text);
  for (const text of managerLines(hall)) console.log(text);
  for (const w of hall.windows) {
    const { link } = w.bridge.status();
    const { screen } = w.bridge.config;
    console.log(`  ${w.windowNo}        terminal ${link.terminal?.serial} (firmware ${link.terminal?.fw}) on ${link.path}; HTTP API ${w.bridge.httpUrl}${screen ? `; customer screen http://127.0.0.1:${screen.port}/` : ''}`);
  }
  console.log(`  databases  ${dataDir}`);
  let view: HallView;
  try {
    view = await openHallView(hall, options.viewPort);
  } catch (err) {
    await hall.stop();
    throw err;
  }
  console.log(`  hall view  ${view.url}`);
  console.log(options.duration ? `Running for ${options.duration} s.\n` : 'Press Ctrl-C to stop.\n');

  const profileOf = (windowNo: string): GradeCodeProfileName =>
    hall.windows.find((w) => w.windowNo === windowNo)?.bridge.config.mqtt.gradeProfile ?? DEFAULT_GRADE_CODE_PROFILE;
  const onActivity = (activity: HallActivity): void => describe(activity, profileOf(activity.windowNo));
  hall.on('activity', onActivity);
  hall.alerts.on('message', describeAlert);
  const status = setInterval(() => printStatus(hall), STATUS_EVERY_MS);
  const stopSignal = options.duration
    ? new Promise<void>((resolve) => setTimeout(resolve, options.duration * 1000))
    : untilSignal();
  await stopSignal;
  clearInterval(status);
  hall.off('activity', onActivity);
  hall.alerts.off('message', describeAlert);
  console.log('\nstopping…');
  printStatus(hall);
  await printSummary(hall);
  await view.stop();
  await hall.stop();
  if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
}

/** The hall view on its port; if that port is taken (another hall running), on any free one. */
async function openHallView(hall: SimulatedHall, port: number): Promise<HallView> {
  try {
    return await startHallView(hall, { port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw err;
    console.log(`  (port ${port} is in use: the hall view takes a free port; choose one with --view-port)`);
    return startHallView(hall, { port: 0 });
  }
}

function describe(activity: HallActivity, profile: GradeCodeProfileName): void {
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
        return line(activity.windowNo, 'rated', `${GRADE_INFO[grade].zh} (code ${gradeCode(grade, profile)}) after ${(latencyMs / 1000).toFixed(1)} s`);
      }
      return line(activity.windowNo, record.outcome === 'not_rated' ? 'not rated' : record.outcome, record.flags.length ? `flags: ${record.flags.join(', ')}` : 'invitation timed out');
    }
    case 'event': {
      const { type, detail } = activity.event;
      const grade = gradeSchema.safeParse(detail.grade);
      const what = type === 'stray_press' ? 'stray press' : type.replace(/_/g, ' ');
      return line(activity.windowNo, 'event', `${what}${grade.success ? ` (${GRADE_INFO[grade.data].zh})` : ''}, recorded as an event, not a rating`);
    }
    case 'acked':
      return line(activity.windowNo, 'acked', `${activity.ack.ids.length} record(s) ${activity.ack.status} by the gateway`);
    case 'printed': {
      const [qr] = activity.receipt.qrCodes();
      const cases = activity.receipt.lines().filter((l) => l.startsWith('办件编号')).map((l) => l.replace(/^办件编号：/, ''));
      return line(activity.windowNo, 'printed', `receipt (办件回执) for case ${cases.join(', ')}; QR ${qr ? `${qr.payload.slice(0, 48)}…` : 'missing!'}`);
    }
    case 'frameRejected':
      return line(activity.windowNo, 'serial', `frame dropped (${activity.reason}): ${activity.detail}`);
    case 'broker':
      return line(activity.windowNo, 'broker', activity.state);
    case 'said':
      return line(activity.windowNo, 'voice', activity.words);
  }
}

function printStatus(hall: SimulatedHall): void {
  const windows = hall.windows.map((w) => {
    const s = w.bridge.status();
    return `${w.windowNo} ${s.link.alive ? 'link up' : 'LINK DOWN'}, ${s.broker.connected ? 'broker up' : 'BROKER DOWN'}, backlog ${s.backlog.pending}`;
  });
  const g = hall.gateway.ingest.stats();
  const delivery = hall.gateway.status().province;
  const { emulator } = hall.province;
  const province = delivery
    ? `  || province: ${emulator.services.length} services, ${emulator.evaluations.length} evaluations; ${delivery.transient} transient failures${faultsNote(hall)}`
    : '';
  console.log(`-- ${time()}  ${windows.join(' | ')}  || gateway: ${g.accepted} accepted, ${g.duplicates} duplicates, ${g.rejected} rejected${province}`);
}

/** The start banner's lines for the chain past the gateway: the province it delivers to, and the page the receipts lead to. */
export function chainLines(hall: SimulatedHall): string[] {
  const { emulator, profileFile } = hall.province;
  const status = hall.gateway.status();
  const delivering = status.province ? `the gateway delivers to it as "${status.province.profile}"${status.province.deliver ? '' : ' (delivery paused: province.deliver is false)'}` : 'the gateway has no province section';
  const rateLater = status.rateLater?.publicUrl ?? hall.gateway.rateLaterUrl;
  return [
    `  province   ${emulator.url} (emulated 好差评 interface: ${emulator.endpoints.service}, ${emulator.endpoints.evaluation}); ${delivering}, profile ${profileFile}`,
    `             what it received: ${emulator.url}/_emulator/stats; faults: POST ${emulator.url}/_emulator/faults (docs/province-emulator.md) or the hall view's buttons`,
    `  rate later ${rateLater ?? 'not served'}${rateLater ? ' (the page the receipts\' QR codes lead to)' : ''}`,
  ];
}

/** The start banner's lines for the hall's managers: the dashboard and its accounts, where alerts go. */
export function managerLines(hall: SimulatedHall): string[] {
  const { accounts, file } = hall.dashboardAccounts;
  return [
    `  dashboard  ${hall.gateway.dashboardUrl ?? 'not served'}/ (statistics, live windows, bad reviews and alerts, exports); sign in as ${accounts.map((a) => a.username).join(', ')}: passwords in ${file}`,
    `  alerts     bad reviews and fleet faults go to a local stand-in for the duty group's robots (WeCom, DingTalk with 加签, a webhook) at ${hall.alerts.url}`,
  ];
}

/** An alert as the duty group's chat shows it: one line, from the generic webhook's copy (WeCom and DingTalk get the same). */
function describeAlert(message: ReceivedMessage): void {
  if (message.channel !== 'webhook' || !message.accepted) return;
  const body = message.body as { title?: unknown; repeat?: unknown; windowNo?: unknown };
  const repeat = typeof body.repeat === 'number' && body.repeat > 0 ? ` (repeat ${body.repeat}: not yet acknowledged on the dashboard)` : '';
  line(typeof body.windowNo === 'string' ? body.windowNo : '---', 'ALERT', `${String(body.title)}${repeat}; sent to WeCom, DingTalk and the webhook`);
}

function faultsNote(hall: SimulatedHall): string {
  const faults = hall.province.emulator.faults.list().map((f) => f.fault.kind);
  return faults.length ? `; FAULTS SET: ${faults.join(', ')}` : '';
}

/** Read back from the gateway's database: what reached it, one outcome per invitation. */
async function printSummary(hall: SimulatedHall): Promise<void> {
  const { rows } = await hall.gateway.db.query<{ invitations: number; rated: number }>(
    "SELECT count(*)::int AS invitations, count(*) FILTER (WHERE outcome = 'rated')::int AS rated FROM records WHERE kind = 'invitation' AND superseded_by IS NULL AND NOT test",
  );
  const { invitations, rated } = rows[0] ?? { invitations: 0, rated: 0 };
  const share = invitations ? Math.round((rated / invitations) * 100) : 0;
  console.log(`gateway database holds ${invitations} invitations, ${rated} rated: participation ${share}% (参评率)`);
  const { rows: states } = await hall.gateway.db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM deliveries GROUP BY state');
  console.log(provinceSummary(hall.province.emulator.stats, hall.province.emulator, Object.fromEntries(states.map((r) => [r.state, r.n]))));
}

/**
 * The closing line beside the gateway's: what the province emulator's ledger holds, and the
 * gateway's delivery rows by state (one per case: a case still waiting is not yet at the province).
 */
export function provinceSummary(
  stats: Pick<ProvinceHttpStats, 'duplicates' | 'refused'>,
  ledger: { services: readonly unknown[]; evaluations: readonly unknown[] },
  deliveries: Partial<Record<string, number>>,
): string {
  const refused = Object.values(stats.refused).reduce((n, k) => n + k, 0);
  const n = (state: string): number => deliveries[state] ?? 0;
  const waiting = n('service') + n('evaluation');
  return (
    `province emulator received ${ledger.services.length} services and ${ledger.evaluations.length} evaluations ` +
    `(${stats.duplicates.evaluation} duplicate evaluations, ${refused} refused); ` +
    `gateway delivery: ${n('delivered')} cases delivered, ${waiting} waiting, ${n('rejected')} rejected${n('skipped') ? `, ${n('skipped')} skipped` : ''}`
  );
}
