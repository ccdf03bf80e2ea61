import { z } from 'zod';

/**
 * Commands from the province on `…/cmd`, answered on `…/cmd/result`. Every command carries an id
 * that its result repeats; a command that fails validation is answered with what was wrong.
 */
export const commandSchema = z.discriminatedUnion('command', [
  /** The terminal's status, as GET /api/v1/status gives it. */
  z.object({ id: z.string().min(1).max(64), command: z.literal('status') }),
  /** Print an invitation's receipt again (补打). */
  z.object({ id: z.string().min(1).max(64), command: z.literal('reprint'), invitationId: z.string().min(1).max(64) }),
  /** Publish stored records again, by record sequence number (inclusive): the province lost them. */
  z.object({
    id: z.string().min(1).max(64),
    command: z.literal('resend'),
    fromSeq: z.number().int().positive(),
    toSeq: z.number().int().positive(),
  }),
]);
export type Command = z.infer<typeof commandSchema>;

export const commandResultSchema = z.object({
  id: z.string().nullable(),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.string().optional(),
});
export type CommandResult = z.infer<typeof commandResultSchema>;
