import { z } from 'zod';
import { BUTTON_COUNT, GRADE_INFO, GRADES, gradeSchema } from './grades.js';
import { INVITATION_MODES } from './records.js';
import { REFUSALS } from './refusals.js';
import { PROMPTS } from './voice-prompts.js';

/*
 * Bodies of the customer screen's own HTTP server (bridge/screen/screen-server.ts), apart from the
 * staff API: what the citizen's page sends. docs/customer-screen.md.
 */

const invitationIdSchema = z.string().min(1, 'invitationId: required').max(64, 'invitationId: at most 64 characters');

/** The citizen touched a grade for the open invitation the screen shows. */
export const screenPressSchema = z.strictObject({ invitationId: invitationIdSchema, grade: gradeSchema });

/** After a bad grade: the reason touched (its button, 0-based, as offered), or null to skip it. */
export const screenReasonSchema = z.strictObject({
  invitationId: invitationIdSchema,
  button: z.number().int().min(0).max(BUTTON_COUNT - 1, `button: 0-${BUTTON_COUNT - 1}, as offered`).nullable(),
});

/** How many digits a tablet's one-time pairing code has. */
export const PAIRING_CODE_DIGITS = 6;

/** A tablet on the LAN gives the one-time code `hcp screen pair` showed. */
export const screenPairSchema = z.strictObject({
  code: z.string().regex(new RegExp(`^\\d{${PAIRING_CODE_DIGITS}}$`), `code: the ${PAIRING_CODE_DIGITS} digits hcp screen pair shows`),
});

/** What GET /api/session says: whether this device may rate here (the Pi's own kiosk, or a paired tablet). */
export interface ScreenSession {
  allowed: boolean;
  via: 'kiosk' | 'paired' | null;
}

/**
 * `GET /api/meta`: the words the screen's page shows, from their one home (the grades left to
 * right as the buttons are, the prompts the voice says, the refusals), never a copy in the page.
 */
export const SCREEN_META = {
  grades: GRADES.map((grade) => ({ grade, zh: GRADE_INFO[grade].zh, class: GRADE_INFO[grade].class })),
  prompts: { invite: PROMPTS.invite.text, thanks: PROMPTS.thanks.text, reasons: PROMPTS.reasons.text, timeout: PROMPTS.timeout.text, paused: PROMPTS.paused.text },
  modes: INVITATION_MODES,
  refusals: Object.fromEntries(Object.entries(REFUSALS).map(([code, { zh }]) => [code, zh])),
};
