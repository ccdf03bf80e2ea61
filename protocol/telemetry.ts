import { z } from 'zod';
import { ALARM_CODES, type Alarm } from './alarms.js';
import { staffIdSchema } from './http-api.js';
import { PRINTER_CONDITIONS, type PrinterCondition } from './printer.js';
import { areaCodeSchema, invitationModeSchema, serviceSchema } from './records.js';

/*
 * The health report a bridge publishes on `…/telemetry` (QoS 0, the next one supersedes it): built
 * by bridge/features/telemetry.ts, kept as it is by the gateway's registry, read field by field by
 * gateway/live/telemetry-view.ts. Each part has its own schema so that a reader can take the parts
 * that parse and leave the rest. Never a grade, never a case number (ARCHITECTURE invariant 8).
 */

const isoTime = z.iso.datetime({ offset: true });
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const shortText = z.string().max(200);

/** The items of the open invitation the report names at most: a theme can hold 50, the report stays a few KB. */
export const TELEMETRY_DESK_ITEMS = 10;

export const telemetryAlarmSchema = z.enum(ALARM_CODES as [Alarm, ...Alarm[]]);
export const telemetryPrinterConditionSchema = z.enum(Object.keys(PRINTER_CONDITIONS) as [PrinterCondition, ...PrinterCondition[]]);

/** The open invitation as the hall's managers see it: when, which mode, which items; no case number. */
export const deskInvitationSchema = z.object({
  invitedAt: isoTime,
  mode: invitationModeSchema,
  /** Distinct items (a batch is several cases of one), at most TELEMETRY_DESK_ITEMS. */
  items: z.array(serviceSchema.pick({ itemCode: true, itemName: true })).max(TELEMETRY_DESK_ITEMS),
  /** How many cases the invitation covers (a count, not their numbers). */
  cases: count,
});
export type DeskInvitation = z.infer<typeof deskInvitationSchema>;

/**
 * What the desk is doing: who is signed in, the open invitation, and whether staff paused the
 * window (暂停服务; absent from bridges before it, read as not known).
 */
export const deskSchema = z.object({ staffId: staffIdSchema.nullable(), invitation: deskInvitationSchema.nullable(), paused: z.boolean().optional() });
export type DeskReport = z.infer<typeof deskSchema>;

/**
 * Where the bridge is configured to be (terminal.* of its config): what places a terminal that was
 * approved on its first key, without a registration or the roster saying where it is.
 */
export const placeSchema = z.object({
  areaCode: areaCodeSchema,
  hallCode: z.string().min(1).max(64),
  hallName: z.string().min(1).max(100).nullable(),
  windowNo: z.string().min(1).max(16),
});
export type TelemetryPlace = z.infer<typeof placeSchema>;

/** Each part of the report, by its key. */
export const telemetryParts = {
  place: placeSchema,
  /** The bridge's mqtt.telemetrySeconds: a reader tells a silent terminal by it. */
  beatSeconds: z.number().int().min(1).max(86_400),
  alarms: z.array(telemetryAlarmSchema).max(ALARM_CODES.length),
  backlog: z.object({ pending: count, quarantined: count, oldestPendingAgeMs: count.nullable() }),
  link: z.object({ alive: z.boolean(), portOpen: z.boolean(), serial: shortText.nullable(), fw: shortText.nullable(), rejectedFrames: z.record(z.string().max(64), count) }),
  uplink: z.object({ inflight: count, backlogToDrain: count, heldForClock: count, unexpectedAcks: count }),
  clock: z.object({ synced: z.boolean(), trustedFrom: shortText.nullable() }),
  storage: z.object({
    usedBytes: count,
    capBytes: count,
    full: z.boolean(),
    fault: z.object({ code: shortText, message: z.string().max(2000), since: shortText }).nullable(),
  }),
  /** null: no receipt printer configured. */
  printer: z.object({ condition: telemetryPrinterConditionSchema, pending: count, printed: count }).nullable(),
  desk: deskSchema,
};

export const telemetrySchema = z.object({ at: isoTime, ...telemetryParts });
export type TelemetryBody = z.infer<typeof telemetrySchema>;
/** The report without its time: what bridge/features/telemetry.ts telemetryReport builds from the status. */
export type TelemetryReport = Omit<TelemetryBody, 'at'>;
