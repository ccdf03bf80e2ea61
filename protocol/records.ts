import { z } from 'zod';
import { cancelReasonSchema } from './cancel-reasons.js';
import { gradeSchema } from './grades.js';

/** Version of the upstream record layout, carried in every record's `schema` field: 1, unsealed (a stored record's own). */
export const RECORD_SCHEMA_VERSION = 1;
/** Layout 2: the same record, sealed at commit (signed and chained: protocol/seal/, docs/protocol.md). */
export const SEALED_RECORD_SCHEMA = 2;

const isoTime = z.iso.datetime({ offset: true });
export const terminalIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'terminal id: 1-64 letters, digits, "_" or "-" (it becomes an MQTT topic level)');
export const areaCodeSchema = z.string().regex(/^\d{6}$/, 'administrative area code (行政区划代码) must be 6 digits');

export const serviceSchema = z.object({
  itemCode: z.string().trim().min(1, 'itemCode (事项编码) is required').max(64),
  itemName: z.string().trim().min(1).max(200).optional(),
  caseNo: z.string().trim().min(1, 'caseNo (办件编号) is required').max(64),
});
export type Service = z.infer<typeof serviceSchema>;

export const invitationModeSchema = z.enum(['single', 'batch', 'theme']);
export type InvitationMode = z.infer<typeof invitationModeSchema>;
/** The modes' words staff and the hall view read; the pages take them from the server, never from a copy. */
export const INVITATION_MODES: Record<InvitationMode, string> = { single: '单件', batch: '批量', theme: '一件事' };
export const outcomeSchema = z.enum(['rated', 'not_rated', 'cancelled']);
export type Outcome = z.infer<typeof outcomeSchema>;

/** Where and when, on every record: honest time (ARCHITECTURE invariant 4). */
export const clockStampSchema = z.object({
  synced: z.boolean(),
  bootId: z.string().min(1),
  monoMs: z.number().min(0),
});
export type ClockStamp = z.infer<typeof clockStampSchema>;

const envelope = {
  id: z.uuid({ version: 'v7' }),
  schema: z.union([z.literal(RECORD_SCHEMA_VERSION), z.literal(SEALED_RECORD_SCHEMA)]),
  terminalId: terminalIdSchema,
  areaCode: areaCodeSchema,
  hallCode: z.string().min(1).max(64),
  windowNo: z.string().min(1).max(16),
  flags: z.array(z.string().min(1)),
  test: z.boolean(),
  clock: clockStampSchema,
  /** Per-terminal record sequence, gapless in the order records were stored. */
  seq: z.number().int().positive(),
  /**
   * The serial of the device that reported what this record says (its hello's `serial`); null
   * when no device reported it (the bridge closed a silent terminal's invitation, a remote command).
   */
  device: z.string().min(1).max(64).nullable().optional(),
};

export const ratingSchema = z.object({
  grade: gradeSchema,
  gradeCode: z.number().int(),
  reasons: z.array(z.string().min(1)),
  reasonCatalogVersion: z.string().min(1).nullable(),
  pressedAt: isoTime,
  latencyMs: z.number().int().min(0),
});

export const invitationRecordSchema = z
  .object({
    ...envelope,
    kind: z.literal('invitation'),
    staffId: z.string().min(1).max(64),
    services: z.array(serviceSchema).min(1),
    mode: invitationModeSchema,
    proxy: z.boolean(),
    invitedAt: isoTime,
    closedAt: isoTime,
    outcome: outcomeSchema,
    rating: ratingSchema.optional(),
    /** Where it was rated: the terminal's buttons, the customer screen (bridge/screen/), or later by the receipt's QR. */
    channel: z.enum(['counter', 'screen', 'receipt_qr']),
    /** Staff cancelled it before any press: why, from protocol/cancel-reasons.ts. */
    cancelReason: cancelReasonSchema.optional(),
    /**
     * This record reconciles the terminal's late report into an invitation the bridge had closed
     * without it (a silent terminal): the id of that earlier record. One outcome per invitation:
     * the receiver keeps this one in its place.
     */
    supersedes: z.uuid().optional(),
  })
  .refine((r) => (r.outcome === 'rated') === (r.rating !== undefined), {
    message: 'a rating is present exactly when outcome is "rated"',
    path: ['rating'],
  });
export type InvitationRecord = z.infer<typeof invitationRecordSchema>;

/** `selftest`: a terminal self-test's round trip (always test: true, never counted). */
/** `staff_action`: one entry of the audit of what staff and technicians did (protocol/staff-actions.ts). */
export const eventTypeSchema = z.enum(['stray_press', 'late_device_report', 'stuck_button', 'selftest', 'staff_action']);
export const eventRecordSchema = z.object({
  ...envelope,
  kind: z.literal('event'),
  staffId: z.string().min(1).max(64).nullable(),
  type: eventTypeSchema,
  at: isoTime,
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});
export type EventRecord = z.infer<typeof eventRecordSchema>;

export const upstreamRecordSchema = z.union([invitationRecordSchema, eventRecordSchema]);
export type UpstreamRecord = z.infer<typeof upstreamRecordSchema>;

/**
 * A record as the terminal keeps it: grades by meaning only. The record sequence number and the
 * numeric grade code are added at the upstream edge, by the record format (ARCHITECTURE invariant 6).
 */
export type StoredInvitation = Omit<InvitationRecord, 'seq' | 'rating'> & { rating?: Omit<NonNullable<InvitationRecord['rating']>, 'gradeCode'> };
export type StoredEvent = Omit<EventRecord, 'seq'>;
export type StoredRecord = StoredInvitation | StoredEvent;
