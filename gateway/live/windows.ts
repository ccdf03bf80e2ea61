import { ALARMS, type Alarm } from '../../protocol/alarms.js';
import { PRINTER_CONDITIONS, type PrinterCondition } from '../../protocol/printer.js';
import type { DeskInvitation } from '../../protocol/telemetry.js';
import { scopeCondition, type Scope } from '../accounts/scope.js';
import type { Queryable } from '../db/database.js';
import { readTelemetry } from './telemetry-view.js';

/** A report is stale once this many of the terminal's beats (mqtt.telemetrySeconds) passed without one. */
export const STALE_BEATS = 3;
/** The beat assumed for a report that does not say its own (the bridge's default). */
export const DEFAULT_BEAT_SECONDS = 60;

/** One window as the hall's live view shows it: from the terminal's retained state and its last telemetry. */
export interface WindowLive {
  terminalId: string;
  areaCode: string;
  hallCode: string;
  /** The hall's name, as the bridge's config gives it. */
  hallName: string | null;
  windowNo: string | null;
  /** The bridge's retained state says online (its last will says otherwise). */
  online: boolean;
  lastSeen: string;
  /** When the last telemetry was made (the bridge's clock); null: none yet. */
  telemetryAt: string | null;
  staffId: string | null;
  /** Staff paused the window (暂停服务); null: its bridge does not say. */
  paused: boolean | null;
  invitation: DeskInvitation | null;
  backlog: { pending: number; oldestPendingAgeMs: number | null } | null;
  alarms: { code: Alarm; zh: string }[];
  printer: { condition: PrinterCondition; zh: string } | null;
  clockSynced: boolean | null;
  /**
   * What is shown may be out of date: the terminal is offline, has sent no telemetry, or none for
   * STALE_BEATS of its beats.
   */
  stale: boolean;
}

/**
 * Every terminal (`terminals.*`) with where it is (place_area, place_hall, place_window): the place
 * a registration or the roster gave it; else, for one approved on its first key, what its
 * bridge's telemetry says (protocol/telemetry.ts `place`); else its latest record's. A FROM item:
 * `SELECT … FROM (${PLACED_TERMINALS_SQL}) t WHERE …`; a terminal placed nowhere has NULLs.
 */
export const PLACED_TERMINALS_SQL = `
SELECT t.*, p.area_code AS place_area, p.hall_code AS place_hall, p.window_no AS place_window
  FROM terminals t
  LEFT JOIN LATERAL (
    SELECT t.area_code, t.hall_code, t.window_no, 1 AS rank WHERE t.area_code IS NOT NULL AND t.hall_code IS NOT NULL
    UNION ALL
    SELECT t.telemetry #>> '{place,areaCode}', t.telemetry #>> '{place,hallCode}',
           CASE WHEN length(t.telemetry #>> '{place,windowNo}') BETWEEN 1 AND 16 THEN t.telemetry #>> '{place,windowNo}' END, 2
     WHERE (t.area_code IS NULL OR t.hall_code IS NULL)
       AND (t.telemetry #>> '{place,areaCode}') ~ '^[0-9]{6}$' AND length(t.telemetry #>> '{place,hallCode}') BETWEEN 1 AND 64
    UNION ALL
    (SELECT r.area_code, r.hall_code, r.window_no, 3 FROM records r
      WHERE (t.area_code IS NULL OR t.hall_code IS NULL) AND r.terminal_id = t.terminal_id ORDER BY r.seq DESC LIMIT 1)
    ORDER BY rank LIMIT 1
  ) p ON true`;

interface Row {
  terminal_id: string;
  place_area: string;
  place_hall: string;
  place_window: string | null;
  online: boolean | null;
  last_seen: Date;
  telemetry: unknown;
  telemetry_at: Date | null;
}

/** The approved terminals in `scope`, by area, hall and window number (2 before 10). */
export async function liveWindows(db: Queryable, options: { scope: Scope; now: Date }): Promise<WindowLive[]> {
  const params: unknown[] = [];
  const inScope = scopeCondition(options.scope, { area: 'place_area', hall: 'place_hall' }, params);
  const { rows } = await db.query<Row & Record<string, unknown>>(
    `SELECT terminal_id, place_area, place_hall, place_window, online, last_seen, telemetry, telemetry_at
       FROM (${PLACED_TERMINALS_SQL}) t
      WHERE status = 'approved' AND place_area IS NOT NULL AND place_hall IS NOT NULL AND ${inScope}`,
    params,
  );
  return rows.map((row) => windowOf(row, options.now)).sort(byPlace);
}

function windowOf(row: Row, now: Date): WindowLive {
  const t = readTelemetry(row.telemetry);
  const online = row.online === true;
  const beatMs = (t.beatSeconds ?? DEFAULT_BEAT_SECONDS) * 1000;
  const reportAt = row.telemetry_at === null ? null : new Date(row.telemetry_at);
  return {
    terminalId: row.terminal_id,
    areaCode: row.place_area,
    hallCode: row.place_hall,
    hallName: t.place?.hallCode === row.place_hall ? t.place.hallName : null,
    windowNo: row.place_window,
    online,
    lastSeen: new Date(row.last_seen).toISOString(),
    telemetryAt: reportAt?.toISOString() ?? null,
    staffId: t.desk?.staffId ?? null,
    paused: t.desk?.paused ?? null,
    invitation: t.desk?.invitation ?? null,
    backlog: t.backlog,
    alarms: (t.alarms ?? []).map((code) => ({ code, zh: ALARMS[code] })),
    printer: t.printer && { condition: t.printer.condition, zh: PRINTER_CONDITIONS[t.printer.condition].zh },
    clockSynced: t.clock?.synced ?? null,
    stale: !online || reportAt === null || now.getTime() - reportAt.getTime() > STALE_BEATS * beatMs,
  };
}

const collator = new Intl.Collator('zh', { numeric: true });

function byPlace(a: WindowLive, b: WindowLive): number {
  return (
    collator.compare(a.areaCode, b.areaCode) ||
    collator.compare(a.hallCode, b.hallCode) ||
    collator.compare(a.windowNo ?? '', b.windowNo ?? '') ||
    collator.compare(a.terminalId, b.terminalId)
  );
}
