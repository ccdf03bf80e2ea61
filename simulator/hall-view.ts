import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Alarm } from '../protocol/alarms.js';
import { dailyStats, startOfChinaDay, type DailyStats } from '../bridge/desk/daily-stats.js';
import type { InvitationCounts } from '../bridge/store/invitation-counts.js';
import type { Grade } from '../protocol/grades.js';
import { API_META, type ApiMeta } from '../protocol/http-api.js';
import type { PrinterCondition } from '../protocol/printer.js';
import type { InvitationMode, Outcome } from '../protocol/records.js';
import type { HallActivity, SimulatedHall } from './hall.js';
import { FAULTS_PATH, faultRoute, provinceFigures, type HallViewProvince } from './hall-view/province.js';

export type { HallViewDelivery, HallViewProvince } from './hall-view/province.js';

/** One window as the hall view shows it. */
export interface HallViewWindow {
  windowNo: string;
  terminalId: string;
  httpUrl: string;
  staffId: string | null;
  terminal: { alive: boolean; serial: string | null; fw: string | null };
  broker: { connected: boolean };
  alarms: Alarm[];
  /** The open invitation, with what is left of its time. */
  invitation: {
    id: string;
    staffId: string;
    services: Array<{ itemCode: string; itemName?: string; caseNo: string }>;
    mode: InvitationMode;
    proxy: boolean;
    invitedAt: string;
    timeoutMs: number;
    remainingMs: number;
  } | null;
  /** The last invitation that closed while the view ran. */
  last: { id: string; outcome: Outcome; grade: Grade | null; caseNos: string[]; closedAt: string } | null;
  backlog: { pending: number; quarantined: number; oldestPendingAgeMs: number | null };
  printer: { configured: false } | { configured: true; condition: PrinterCondition; pending: number; printed: number };
  /** The window's figures, and (the operator's view, never the counter's) today's ratings by grade. */
  today: DailyStats & { byGrade: Partial<Record<Grade, number>> };
}

/** What `GET /hall.json` answers. */
export interface HallViewData {
  now: string;
  hall: { name: string | null; code: string; areaCode: string } | null;
  windows: HallViewWindow[];
  /** What the hall's gateway has stored and acknowledged (and refused) since it started. */
  gateway: { accepted: number; duplicates: number; rejected: number; held: number };
  /** The chain on to the province: its emulator's ledger and faults, the gateway's delivery to it. */
  province: HallViewProvince;
  /** The words of grades, alarms, printer conditions and modes, as the bridge's `GET /api/v1/meta` serves them. */
  meta: ApiMeta;
}

export interface HallView {
  /** e.g. http://127.0.0.1:8090/ */
  url: string;
  stop(): Promise<void>;
}

export interface HallViewOptions {
  port?: number;
  host?: string;
  /** For the calls that set the province's faults through its emulator's API. Default: global fetch. */
  fetch?: typeof fetch;
}

/**
 * The page, next to this module in the source tree. A compiled build (dist/simulator) looks in
 * the source tree beside dist as well, since the build copies only the console's files.
 */
function pageFile(): string {
  const candidates = [new URL('./hall-view/index.html', import.meta.url), new URL('../../simulator/hall-view/index.html', import.meta.url)];
  const found = candidates.find((url) => existsSync(url));
  if (!found) throw new Error(`hall view: page not found at ${fileURLToPath(candidates[0]!)}`);
  return fileURLToPath(found);
}

/** Everything the page shows, read from the hall's windows, its gateway and its province. */
export async function hallViewData(hall: SimulatedHall, last: ReadonlyMap<string, HallViewWindow['last']> = new Map()): Promise<HallViewData> {
  const windows = hall.windows.map((w): HallViewWindow => {
    const s = w.bridge.status();
    const now = w.bridge.clock.now();
    const inv = s.invitation;
    return {
      windowNo: w.windowNo,
      terminalId: w.terminalId,
      httpUrl: w.bridge.httpUrl,
      staffId: s.staffId,
      terminal: { alive: s.link.alive, serial: s.link.terminal?.serial ?? null, fw: s.link.terminal?.fw ?? null },
      broker: { connected: s.broker.connected },
      alarms: s.alarms,
      invitation: inv && {
        id: inv.id,
        staffId: inv.staffId,
        services: inv.services,
        mode: inv.mode,
        proxy: inv.proxy,
        invitedAt: inv.invitedAt,
        timeoutMs: inv.timeoutMs,
        remainingMs: Math.max(0, Date.parse(inv.invitedAt) + inv.timeoutMs - now.getTime()),
      },
      last: last.get(w.windowNo) ?? null,
      backlog: { pending: s.backlog.pending, quarantined: s.backlog.quarantined, oldestPendingAgeMs: s.backlog.oldestPendingAgeMs },
      printer: s.printer.configured
        ? { configured: true, condition: s.printer.condition, pending: s.printer.pending, printed: s.printer.printed }
        : { configured: false },
      today: { ...dailyStats(w.bridge.counts, now), byGrade: gradesToday(w.bridge.counts, now) },
    };
  });
  const first = hall.windows[0]?.bridge.status().terminal;
  return {
    now: new Date().toISOString(),
    hall: first ? { name: first.hallName, code: first.hallCode, areaCode: first.areaCode } : null,
    windows,
    gateway: gatewayFigures(hall),
    province: await provinceFigures(hall),
    meta: API_META,
  };
}

/**
 * A live page of the whole simulated hall (`hcp start`): every window's staff, terminal link,
 * open invitation or last outcome, backlog, printer and today's counts, the gateway's totals, and
 * the chain on to the province (what its emulator received, the gateway's delivery, its faults).
 * Serves `/` (the page, no CDN), `/hall.json` (what the page polls every second) and
 * `/province/faults` (the page's buttons that set and clear the province's faults, passed on to
 * the emulator's `/_emulator/faults`).
 */
export async function startHallView(hall: SimulatedHall, { port = 0, host = '127.0.0.1', fetch: fetchFn }: HallViewOptions = {}): Promise<HallView> {
  const page = readFileSync(pageFile());
  const last = new Map<string, HallViewWindow['last']>();
  const onActivity = (activity: HallActivity): void => {
    if (activity.kind !== 'closed') return;
    const { record } = activity;
    last.set(activity.windowNo, {
      id: record.id,
      outcome: record.outcome,
      grade: record.rating?.grade ?? null,
      caseNos: record.services.map((s) => s.caseNo),
      closedAt: record.closedAt,
    });
  };
  hall.on('activity', onActivity);

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, body: unknown): void => send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === FAULTS_PATH || path.startsWith(`${FAULTS_PATH}/`)) {
      const { status, body } = await faultRoute(req, path, { emulatorUrl: hall.province.emulator.url, ...(fetchFn && { fetch: fetchFn }) });
      return json(res, status, body);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'GET only\n');
    if (path === '/' || path === '/index.html') return send(res, 200, 'text/html; charset=utf-8', page);
    if (path === '/hall.json') {
      try {
        return json(res, 200, await hallViewData(hall, last));
      } catch (err) {
        // A window mid-restart (its database closed) answers on the next poll.
        return json(res, 503, { error: { code: 'unavailable', message: (err as Error).message } });
      }
    }
    return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => {
      // A body too large to drain, or a caller gone: nothing to answer.
      if (!res.headersSent) res.destroy();
    });
  });
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    hall.off('activity', onActivity);
    throw err;
  }
  const address = server.address() as AddressInfo;
  const shown = address.address.includes(':') ? `[${address.address}]` : address.address;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${shown}:${address.port}/`,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        hall.off('activity', onActivity);
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}

/** Today's ratings by grade at one window: the hall's view may show them; the staff API never does. */
function gradesToday(counts: InvitationCounts, now: Date): Partial<Record<Grade, number>> {
  const start = startOfChinaDay(now);
  const end = new Date(start.getTime() + 24 * 3600 * 1000);
  return Object.fromEntries(counts.gradesBetween(start, end).map(({ grade, n }) => [grade, n]));
}

function gatewayFigures(hall: SimulatedHall): HallViewData['gateway'] {
  const { accepted, duplicates, rejected, held } = hall.gateway.ingest.stats();
  return { accepted, duplicates, rejected, held };
}
