import { z } from 'zod';
import { ALARMS } from './alarms.js';
import { CANCEL_REASONS, cancelReasonSchema } from './cancel-reasons.js';
import { BUTTON_COUNT, GRADE_INFO, GRADES } from './grades.js';
import { PRINTER_CONDITIONS } from './printer.js';
import { INVITATION_MODES, invitationModeSchema, serviceSchema } from './records.js';
import { REFUSALS, type Refusal } from './refusals.js';
import { ANNOUNCEMENTS } from './voice-prompts.js';
import { staffNameSchema, staffPhotoSchema } from './staff-photo.js';

/** Bodies of the bridge's local HTTP API, v1 (used by the staff console and business systems). */
export const staffIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'staffId (工号): 1-64 letters, digits, ".", "_" or "-"');

/** What staff type to sign in: digits only, like a bank card's PIN. Checked against the province's roster, never stored. */
export const pinSchema = z.string().regex(/^\d{4,12}$/, 'pin (签到密码): 4-12 digits');

/**
 * Staff sign in with their PIN (the province's roster); a business system that signed staff in
 * itself sends its own token (http.businessTokenFile) and no PIN, and may give the name and photo
 * the customer screen's staff card shows (only it: staff's own come from the roster).
 */
export const signInRequestSchema = z.strictObject({
  staffId: staffIdSchema,
  pin: pinSchema.optional(),
  name: staffNameSchema.optional(),
  photo: staffPhotoSchema.optional(),
});

/** The header a technician's call carries the technician token in (http.technicianTokenFile): a `test` invitation needs it. */
export const TECHNICIAN_HEADER = 'x-hcp-technician-token';

/** Staff cancel an invitation only with a reason (protocol/cancel-reasons.ts): it is counted. */
export const cancelRequestSchema = z.strictObject({ reason: cancelReasonSchema });

/** `POST /api/v1/announce`: the terminal says a greeting or 请在一米线外等候 (protocol/voice-prompts.ts). */
export const announceRequestSchema = z.strictObject({
  prompt: z.enum(ANNOUNCEMENTS, { error: `prompt: one of ${ANNOUNCEMENTS.join(', ')}` }),
});

export const invitationRequestSchema = z
  .strictObject({
    services: z.array(serviceSchema).min(1, 'at least one service (事项) is required').max(50),
    /** single: one case; batch (批量): several cases of one item; theme (一件事): linked items. */
    mode: invitationModeSchema.optional(),
    /** Assisted or proxy service (帮办代办): still one rating. */
    proxy: z.boolean().default(false),
    /** Training or provisioning: marked test, never counted. */
    test: z.boolean().default(false),
  })
  .superRefine((req, ctx) => {
    const n = req.services.length;
    const mode = req.mode ?? (n === 1 ? 'single' : undefined);
    if (!mode) {
      ctx.addIssue({
        code: 'custom',
        path: ['mode'],
        message: 'mode is required with more than one service: "batch" (cases of one item) or "theme" (一件事)',
      });
      return;
    }
    if (mode === 'single' && n !== 1) {
      ctx.addIssue({ code: 'custom', path: ['services'], message: `mode "single" takes exactly one service, got ${n}` });
    }
    if (mode !== 'single' && n < 2) {
      ctx.addIssue({ code: 'custom', path: ['services'], message: `mode "${mode}" takes two or more services` });
    }
    if (mode === 'batch' && new Set(req.services.map((s) => s.itemCode)).size > 1) {
      ctx.addIssue({ code: 'custom', path: ['services'], message: 'a batch is several cases of one item: itemCode must be the same' });
    }
    const seen = new Set<string>();
    req.services.forEach((s, i) => {
      if (seen.has(s.caseNo)) {
        ctx.addIssue({ code: 'custom', path: ['services', i, 'caseNo'], message: `case ${s.caseNo} is listed twice` });
      }
      seen.add(s.caseNo);
    });
  })
  .transform((req) => ({ ...req, mode: req.mode ?? 'single' }));
export type InvitationRequest = z.output<typeof invitationRequestSchema>;

/** Every refusal's body: its code (protocol/refusals.ts), what was wrong and, for a bad body, where. */
export const apiRefusalSchema = z.object({
  error: z.object({
    code: z.custom<Refusal>((code) => typeof code === 'string' && Object.hasOwn(REFUSALS, code)),
    message: z.string(),
    field: z.string().optional(),
  }),
});
export type ApiRefusal = z.infer<typeof apiRefusalSchema>;

/**
 * `GET /api/v1/meta`: the lists whose words the staff console and the hall view show, from their
 * one home. It needs no token: like the console's own files, it holds nothing secret, and the
 * console needs its words before it has asked for the token.
 */
export const API_META_PATH = '/api/v1/meta';
export const API_META = {
  alarms: ALARMS,
  refusals: REFUSALS,
  printerConditions: PRINTER_CONDITIONS,
  modes: INVITATION_MODES,
  cancelReasons: CANCEL_REASONS,
  announcements: ANNOUNCEMENTS,
  /** Left to right, as the buttons are. */
  grades: GRADES.map((grade) => ({ grade, ...GRADE_INFO[grade] })),
  buttonCount: BUTTON_COUNT,
};
export type ApiMeta = typeof API_META;
