import type { z } from 'zod';
import { ALARM_CODES, type Alarm } from '../../protocol/alarms.js';
import type { PrinterCondition } from '../../protocol/printer.js';
import { deskInvitationSchema, telemetryParts, telemetrySchema, type DeskInvitation, type TelemetryPlace } from '../../protocol/telemetry.js';

/**
 * What the gateway uses of a terminal's last telemetry (`terminals.telemetry`, kept as the
 * terminal sent it). Each field is null when the report lacks it or it does not parse: a report
 * from an older or a broken bridge still shows what it does say.
 */
export interface TelemetryView {
  /** The bridge's time of the report. */
  at: Date | null;
  /** Where the bridge's config places it (a registration or the roster, in `terminals`, comes first). */
  place: TelemetryPlace | null;
  /** The bridge's telemetry period (mqtt.telemetrySeconds). */
  beatSeconds: number | null;
  /** Known alarm codes only, each once (an unknown one is left out). */
  alarms: Alarm[] | null;
  backlog: { pending: number; oldestPendingAgeMs: number | null } | null;
  clock: { synced: boolean } | null;
  /** null also when the terminal has no receipt printer. */
  printer: { condition: PrinterCondition } | null;
  /** `paused`: staff paused the window (暂停服务); null from a bridge that does not say. */
  desk: { staffId: string | null; invitation: DeskInvitation | null; paused: boolean | null } | null;
}

const EMPTY: TelemetryView = { at: null, place: null, beatSeconds: null, alarms: null, backlog: null, clock: null, printer: null, desk: null };

const KNOWN_ALARMS = new Set<string>(ALARM_CODES);

/** Reads a stored telemetry body. Never throws: whatever does not parse is null. */
export function readTelemetry(body: unknown): TelemetryView {
  try {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ...EMPTY };
    const field = (key: string): unknown => (Object.hasOwn(body, key) ? (body as Record<string, unknown>)[key] : undefined);
    const at = parsed(telemetrySchema.shape.at, field('at'));
    const backlog = parsed(telemetryParts.backlog, field('backlog'));
    const clock = parsed(telemetryParts.clock, field('clock'));
    const printer = parsed(telemetryParts.printer, field('printer'));
    const place = parsed(telemetryParts.place, field('place'));
    return {
      at: at === null ? null : new Date(at),
      place: place && { areaCode: place.areaCode, hallCode: place.hallCode, hallName: place.hallName, windowNo: place.windowNo },
      beatSeconds: parsed(telemetryParts.beatSeconds, field('beatSeconds')),
      alarms: readAlarms(field('alarms')),
      backlog: backlog && { pending: backlog.pending, oldestPendingAgeMs: backlog.oldestPendingAgeMs },
      clock: clock && { synced: clock.synced },
      printer: printer && { condition: printer.condition },
      desk: readDesk(field('desk')),
    };
  } catch {
    // A hostile value (a proxy, a getter that throws) reads as nothing.
    return { ...EMPTY };
  }
}

/** The value parsed by `schema`, or null. */
function parsed<S extends z.ZodType>(schema: S, value: unknown): z.output<S> | null {
  if (value === undefined) return null;
  const result = schema.safeParse(value);
  return result.success ? result.data : null;
}

/** The known codes of an array, each once: one code a newer bridge added does not hide the others. */
function readAlarms(value: unknown): Alarm[] | null {
  if (!Array.isArray(value) || value.length > 64) return null;
  const known = value.filter((code): code is Alarm => typeof code === 'string' && KNOWN_ALARMS.has(code));
  return [...new Set(known)];
}

/** The staff member and the invitation apart: one that does not parse leaves the other. */
function readDesk(value: unknown): TelemetryView['desk'] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const desk = value as Record<string, unknown>;
  const staffId = parsed(telemetryParts.desk.shape.staffId, Object.hasOwn(desk, 'staffId') ? desk.staffId : undefined);
  const invitation = parsed(deskInvitationSchema, Object.hasOwn(desk, 'invitation') ? desk.invitation : undefined);
  const paused = Object.hasOwn(desk, 'paused') && typeof desk.paused === 'boolean' ? desk.paused : null;
  if (invitation === null) return { staffId, invitation: null, paused };
  return {
    staffId,
    paused,
    invitation: {
      invitedAt: invitation.invitedAt,
      mode: invitation.mode,
      items: invitation.items.map((item) => (item.itemName === undefined ? { itemCode: item.itemCode } : { itemCode: item.itemCode, itemName: item.itemName })),
      cases: invitation.cases,
    },
  };
}
