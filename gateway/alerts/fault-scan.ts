import { hostTimers, type Timers } from '../../protocol/timers.js';
import type { GatewayConfig } from '../config.js';
import type { Queryable } from '../db/database.js';
import { withoutSecrets } from '../ingest/record-ingest.js';
import { readTelemetry } from '../live/telemetry-view.js';
import { PLACED_TERMINALS_SQL } from '../live/windows.js';
import type { Clock, Logger } from '../ports.js';
import { FAULT_KINDS, type FaultKind } from './detail.js';

/*
 * Fleet faults as alerts: a terminal offline (its last will, or not heard from) for
 * offlineMinutes, a backlog older than backlogHours, a clock unsynced, paper out. Raised and
 * cleared from the `terminals` table, which every instance keeps; any instance may scan, and the
 * partial unique index keeps one open alert per (kind, terminal) whichever raises it.
 */

export type FaultSettings = GatewayConfig['alerts']['faults'];

/** What the scan reads of a terminal. */
export interface TerminalFacts {
  terminalId: string;
  areaCode: string;
  hallCode: string;
  windowNo: string | null;
  approved: boolean;
  online: boolean | null;
  lastSeen: Date;
  stateAt: Date | null;
  telemetry: unknown;
  telemetryAt: Date | null;
}

export interface FaultFinding {
  kind: FaultKind;
  /** When it began, as far as the terminal's reports tell. */
  since: Date;
  detail: Record<string, unknown>;
}

/**
 * A terminal's faults now. `unknown`: kinds that cannot be judged (the terminal is offline, so
 * its last telemetry is stale, or it never sent any): their alerts stay as they are.
 */
export function terminalFaults(t: TerminalFacts, settings: FaultSettings, now: Date): { active: FaultFinding[]; unknown: FaultKind[] } {
  if (!t.approved) return { active: [], unknown: [] };
  const offlineMs = settings.offlineMinutes * 60_000;
  const nowMs = now.getTime();
  const offlineSince = t.online === false ? (t.stateAt ?? t.lastSeen) : null;
  if (offlineSince !== null && nowMs - offlineSince.getTime() >= offlineMs) return offline(offlineSince);
  if (nowMs - t.lastSeen.getTime() >= offlineMs) return offline(t.lastSeen);
  if (offlineSince !== null || t.telemetry === null || t.telemetry === undefined) return { active: [], unknown: ['backlog_old', 'clock_unsynced', 'paper_out'] };

  const view = readTelemetry(t.telemetry);
  const reportedAt = t.telemetryAt ?? view.at ?? now;
  const elapsed = Math.max(0, nowMs - reportedAt.getTime());
  const active: FaultFinding[] = [];
  const oldest = view.backlog?.oldestPendingAgeMs ?? null;
  if (view.backlog !== null && view.backlog.pending > 0 && oldest !== null && oldest + elapsed >= settings.backlogHours * 3600_000) {
    active.push({
      kind: 'backlog_old',
      since: new Date(reportedAt.getTime() - oldest),
      detail: { pending: view.backlog.pending, oldestPendingHours: Math.round(((oldest + elapsed) / 3600_000) * 10) / 10 },
    });
  }
  const alarms = view.alarms ?? [];
  if (settings.clockUnsynced && (view.clock?.synced === false || alarms.includes('clock_unsynced'))) active.push({ kind: 'clock_unsynced', since: reportedAt, detail: {} });
  if (settings.paperOut && (view.printer?.condition === 'paper_out' || alarms.includes('printer_paper_out'))) active.push({ kind: 'paper_out', since: reportedAt, detail: { printerCondition: 'paper_out' } });
  return { active, unknown: [] };
}

function offline(since: Date): { active: FaultFinding[]; unknown: FaultKind[] } {
  return { active: [{ kind: 'terminal_offline', since, detail: {} }], unknown: ['backlog_old', 'clock_unsynced', 'paper_out'] };
}

type TerminalRow = {
  terminal_id: string;
  area_code: string;
  hall_code: string;
  window_no: string | null;
  status: string;
  online: boolean | null;
  last_seen: Date;
  state_at: Date | null;
  telemetry: unknown;
  telemetry_at: Date | null;
};

/** One scan: raises what began, clears what ended. */
export async function scanFaults(db: Queryable, options: { now: Date; settings: FaultSettings }): Promise<{ raised: number; cleared: number }> {
  const { now, settings } = options;
  // Only the parts of the telemetry the scan reads: a fleet's reports are large.
  const { rows } = await db.query<TerminalRow>(
    `SELECT terminal_id, place_area AS area_code, place_hall AS hall_code, place_window AS window_no, status, online, last_seen, state_at, telemetry_at,
            CASE WHEN jsonb_typeof(telemetry) = 'object'
                 THEN jsonb_build_object('alarms', telemetry->'alarms', 'backlog', telemetry->'backlog', 'clock', telemetry->'clock', 'printer', telemetry->'printer', 'at', telemetry->'at')
                 ELSE telemetry END AS telemetry
       FROM (${PLACED_TERMINALS_SQL}) t WHERE place_area IS NOT NULL AND place_hall IS NOT NULL`,
  );
  const raise: Record<string, unknown>[] = [];
  const keep: string[] = [];
  for (const row of rows) {
    const { active, unknown } = terminalFaults(
      {
        terminalId: row.terminal_id,
        areaCode: row.area_code,
        hallCode: row.hall_code,
        windowNo: row.window_no,
        approved: row.status === 'approved',
        online: row.online,
        lastSeen: row.last_seen,
        stateAt: row.state_at,
        telemetry: row.telemetry,
        telemetryAt: row.telemetry_at,
      },
      settings,
      now,
    );
    for (const f of active) {
      raise.push({ kind: f.kind, terminal_id: row.terminal_id, area_code: row.area_code, hall_code: row.hall_code, window_no: row.window_no, detail: f.detail, since: f.since.toISOString() });
      keep.push(`${f.kind}:${row.terminal_id}`);
    }
    for (const kind of unknown) keep.push(`${kind}:${row.terminal_id}`);
  }
  const raised =
    raise.length === 0
      ? 0
      : (
          await db.query(
            `INSERT INTO alerts (kind, subject, terminal_id, area_code, hall_code, window_no, detail, occurred_at, raised_at, notify_due_at)
             SELECT f.kind, f.terminal_id, f.terminal_id, f.area_code, f.hall_code, f.window_no, f.detail, f.since, $2, $2
               FROM jsonb_to_recordset($1::jsonb) AS f(kind text, terminal_id text, area_code text, hall_code text, window_no text, detail jsonb, since timestamptz)
             ON CONFLICT (kind, subject) WHERE cleared_at IS NULL DO NOTHING
             RETURNING id`,
            [JSON.stringify(raise), now],
          )
        ).rows.length;
  const cleared = (
    await db.query(
      `UPDATE alerts SET cleared_at = $1, notify_due_at = NULL
        WHERE kind = ANY($3::text[]) AND cleared_at IS NULL AND NOT ((kind || ':' || subject) = ANY($2::text[]))
        RETURNING id`,
      [now, keep, [...FAULT_KINDS]],
    )
  ).rows.length;
  return { raised, cleared };
}

export interface FaultScannerDeps {
  db: Queryable;
  clock: Clock;
  timers?: Timers;
  logger: Logger;
  settings: FaultSettings;
  /** Default 30 s. */
  intervalMs?: number;
  /** Called when a scan raised an alert (AlertNotifier.kick: sent at once, not at its next poll). */
  onRaised?: () => void;
}

/** Scans every intervalMs until stop(); a failed scan is logged and counted, the next one runs. */
export class FaultScanner {
  readonly #deps: FaultScannerDeps;
  readonly #timers: Timers;
  #handle: unknown;
  #running: Promise<void> | undefined;
  #stopped = true;
  readonly #stats = { scans: 0, raised: 0, cleared: 0, failures: 0, lastError: null as string | null };

  constructor(deps: FaultScannerDeps) {
    this.#deps = deps;
    this.#timers = deps.timers ?? hostTimers;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#arm(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timers.clearTimeout(this.#handle);
    await this.#running;
  }

  /** One scan now (after the one in progress, if any). */
  async scanNow(): Promise<void> {
    while (this.#running) await this.#running;
    this.#running = this.#scan().finally(() => {
      this.#running = undefined;
    });
    await this.#running;
  }

  status(): { scans: number; raised: number; cleared: number; failures: number; lastError: string | null } {
    return { ...this.#stats };
  }

  #arm(ms: number): void {
    this.#handle = this.#timers.setTimeout(() => {
      void this.scanNow().finally(() => {
        if (!this.#stopped) this.#arm(this.#deps.intervalMs ?? 30_000);
      });
    }, ms);
  }

  async #scan(): Promise<void> {
    const { db, clock, settings, logger } = this.#deps;
    try {
      const result = await scanFaults(db, { now: clock.now(), settings });
      this.#stats.scans += 1;
      this.#stats.raised += result.raised;
      this.#stats.cleared += result.cleared;
      if (result.raised > 0 || result.cleared > 0) logger.info(result, 'alerts: fleet faults raised or cleared');
      if (result.raised > 0) this.#deps.onRaised?.();
    } catch (err) {
      this.#stats.failures += 1;
      this.#stats.lastError = withoutSecrets(err);
      logger.error({ error: this.#stats.lastError }, 'alerts: the fault scan failed; the next one runs as usual');
    }
  }
}
