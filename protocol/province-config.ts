import { z } from 'zod';
import { gradeCodeProfileNameSchema } from './grades.js';
import { staffIdSchema } from './http-api.js';
import { staffPhotoSchema, staffTitleSchema } from './staff-photo.js';
import { BRIDGE_PLACEHOLDERS, isBridgePlaceholder, templatePlaceholders } from './url-template.js';

/**
 * Retained on `…/config`, province to terminal. The bad-review reason catalogue is the
 * province's, versioned, and never edited locally: a terminal offers at most five reasons, one
 * per button.
 */
export const reasonCatalogSchema = z.object({
  version: z.string().min(1).max(32),
  reasons: z
    .array(z.object({ code: z.string().min(1).max(32), label: z.string().min(1).max(40) }))
    .min(1)
    .max(5, 'at most five reasons: one per button'),
});
export type ReasonCatalog = z.infer<typeof reasonCatalogSchema>;

const base64Schema = (bytes: { min: number; max: number }) =>
  z
    .string()
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'expected base64')
    .refine((text) => {
      const length = Math.floor((text.length * 3) / 4) - (text.match(/=/g)?.length ?? 0);
      return length >= bytes.min && length <= bytes.max;
    }, `expected base64 of ${bytes.min}-${bytes.max} bytes`);

/**
 * A staff member's sign-in PIN as the province sends it: never the PIN, only its scrypt hash and
 * the parameters to repeat it. The cost is bounded both ways: too cheap would let a copy of the
 * config be guessed through, too dear (N × r) would let one config exhaust the Pi's memory.
 */
export const pinHashSchema = z.strictObject({
  kdf: z.literal('scrypt'),
  /** CPU/memory cost, a power of two from 2^12 to 2^16. */
  N: z
    .number()
    .int()
    .refine((n) => n >= 2 ** 12 && n <= 2 ** 16 && (n & (n - 1)) === 0, 'N: a power of two from 4096 to 65536'),
  r: z.number().int().min(1).max(8),
  p: z.number().int().min(1).max(2),
  salt: base64Schema({ min: 16, max: 64 }),
  hash: base64Schema({ min: 32, max: 64 }),
});
export type PinHash = z.infer<typeof pinHashSchema>;

/** Every photo of a roster together: the roster is one retained message each terminal parses at once. */
const ROSTER_PHOTOS_MAX_CHARS = 8 * 1024 * 1024;

/**
 * Who may sign in at this province's windows, retained on `…/config`: each staff member's 工号,
 * name and PIN hash. Versioned like the reason catalogue and kept as sent.
 */
export const staffRosterSchema = z
  .strictObject({
    version: z.string().min(1).max(32),
    staff: z
      .array(
        z.strictObject({
          staffId: staffIdSchema,
          name: z.string().min(1).max(40),
          pin: pinHashSchema,
          /** The customer screen's staff card: a title under the name and a photo (protocol/staff-photo.ts). */
          title: staffTitleSchema.optional(),
          photo: staffPhotoSchema.optional(),
        }),
      )
      .max(2000, 'at most 2000 staff members per roster'),
  })
  .superRefine((roster, ctx) => {
    const photoChars = roster.staff.reduce((sum, member) => sum + (member.photo?.length ?? 0), 0);
    if (photoChars > ROSTER_PHOTOS_MAX_CHARS) {
      ctx.addIssue({ code: 'custom', path: ['staff'], message: `the roster's photos are ${Math.round(photoChars / 1024 / 1024)} MB in all: at most ${ROSTER_PHOTOS_MAX_CHARS / 1024 / 1024} MB (smaller photos, or a roster per hall)` });
    }
    const seen = new Set<string>();
    roster.staff.forEach((member, i) => {
      if (seen.has(member.staffId)) ctx.addIssue({ code: 'custom', path: ['staff', i, 'staffId'], message: `staff ${member.staffId} is listed twice` });
      seen.add(member.staffId);
    });
  });
export type StaffRoster = z.infer<typeof staffRosterSchema>;

/** The most staff one hall's stars list: a config is retained on every terminal of the hall. */
export const MAX_STARRED_STAFF = 500;

/**
 * Stars for the staff card on the customer screen, made by the gateway from its statistics of the
 * terminal's hall (docs/statistics.md, "Staff stars"): each staff member's mean grade over the
 * last `days` (非常满意 5 … 非常不满意 1, tests and flagged ratings left out) rounded to half
 * stars, for those with at least `minRatings` ratings; the others are not listed (too few to show).
 * `ratings` is how many the stars were made from when they were last sent.
 */
export const staffStarsSchema = z.strictObject({
  asOf: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 time such as 2026-11-30T08:00:00Z' }),
  days: z.number().int().min(1).max(366),
  minRatings: z.number().int().min(1).max(10_000),
  staff: z
    .array(
      z.strictObject({
        staffId: staffIdSchema,
        stars: z
          .number()
          .min(1)
          .max(5)
          .refine((stars) => Number.isInteger(stars * 2), '1 to 5 in halves (1, 1.5, … 5)'),
        ratings: z.number().int().min(1).max(100_000_000),
      }),
    )
    .max(MAX_STARRED_STAFF, `at most ${MAX_STARRED_STAFF} staff members per hall`)
    .superRefine((staff, ctx) => {
      const seen = new Set<string>();
      staff.forEach((member, i) => {
        if (seen.has(member.staffId)) ctx.addIssue({ code: 'custom', path: [i, 'staffId'], message: `staff ${member.staffId} is listed twice` });
        seen.add(member.staffId);
      });
    }),
});
export type StaffStars = z.infer<typeof staffStarsSchema>;

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

/**
 * Where this terminal's receipt QR codes lead (the province profile's rateLater, made for this
 * terminal by its gateway: gateway/receipt-page.ts). gateway: the gateway's page, `url` with the
 * receipt's signed token appended (protocol/receipt-token.ts). province: the province's page,
 * `urlTemplate` with {deptCode} already filled and only the bridge's placeholders left (the case:
 * {caseNo}, {itemCode}, {taskCode}; the place its records carry: {areaCode}, {areaCode6},
 * {hallCode}, {windowNo}), how {taskCode} is cut from the item code and {areaCode} padded. bridge:
 * the gateway has no page for this terminal: the bridge's own printer.evaluationUrl (it replaces a
 * page sent before, since a config that leaves a part out leaves it as it was).
 */
export const receiptPageSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('gateway'), url: httpUrl.max(2000, 'at most 2000 characters: a longer one does not fit a receipt’s QR code') }),
  z.strictObject({
    mode: z.literal('province'),
    urlTemplate: z
      .string()
      .max(4000, 'at most 4000 characters')
      .superRefine((template, ctx) => {
        if (!httpUrl.safeParse(template.replace(/\{[^{}]*\}/g, 'x')).success) ctx.addIssue({ code: 'custom', message: 'expected an http(s) URL with placeholders such as {caseNo}' });
        for (const name of templatePlaceholders(template)) {
          if (!isBridgePlaceholder(name)) ctx.addIssue({ code: 'custom', message: `placeholder {${name}} is not the terminal's to fill: only ${BRIDGE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')} are left to it` });
        }
      }),
    taskCode: z
      .strictObject({ splitLength: z.number().int().min(2).max(64), taskCodeLength: z.number().int().min(1).max(63) })
      .refine((rule) => rule.taskCodeLength < rule.splitLength, { message: 'taskCodeLength must be less than splitLength', path: ['taskCodeLength'] })
      .nullable(),
    /** {areaCode} is the 6-digit code right-padded with zeros to this many digits (the profile's areaCodeDigits). */
    areaCodeDigits: z.number().int().min(6).max(12),
  }),
  z.strictObject({ mode: z.literal('bridge') }),
]);
export type ReceiptPage = z.infer<typeof receiptPageSchema>;

export const provinceConfigSchema = z.object({
  reasonCatalog: reasonCatalogSchema.optional(),
  staffRoster: staffRosterSchema.optional(),
  /**
   * How the province numbers the grades (protocol/grades.ts): once sent, it takes the place of
   * the bridge's own mqtt.gradeProfile for every record stored from then on.
   */
  gradeProfile: gradeCodeProfileNameSchema.optional(),
  receiptPage: receiptPageSchema.optional(),
  /** The stars of the staff who rated at this terminal's hall (made by the gateway, not the province). */
  staffStars: staffStarsSchema.optional(),
});
export type ProvinceConfig = z.infer<typeof provinceConfigSchema>;
