import { z } from 'zod';
import { SETTINGS } from './settings.js';

/**
 * Commands from the province on `…/cmd`, answered on `…/cmd/result`. Every command carries an id
 * that its result repeats; a command that fails validation is answered with what was wrong.
 */
const { invitation, printer, mqtt, log } = SETTINGS;

/**
 * The log levels the province may set: each still logs warnings and errors. 'error', 'fatal'
 * and 'silent' would hide from the technician what goes wrong at the counter, so they are set
 * on site only (the config file).
 */
export const REMOTE_LOG_LEVELS = ['warn', 'info', 'debug', 'trace'] as const;
const remoteLogLevelSchema = log.level.unwrap().extract(REMOTE_LOG_LEVELS, {
  error: `expected ${REMOTE_LOG_LEVELS.join(', ')}: a level that hides warnings and errors is set on site only`,
});

/**
 * What the province may change remotely: operational settings only. The terminal's identity,
 * broker and credentials are set on site (`hcp provision`), so that a bad command cannot cut a
 * terminal off its province. Each takes its range from protocol/settings.ts, as the config file
 * does, but no default: a change names only what it changes.
 */
export const remoteConfigChangesSchema = z
  .strictObject({
    invitation: z
      .strictObject({
        timeoutSeconds: invitation.timeoutSeconds.unwrap(),
        deviceGraceSeconds: invitation.deviceGraceSeconds.unwrap(),
        reasonTimeoutSeconds: invitation.reasonTimeoutSeconds.unwrap(),
      })
      .partial(),
    printer: z.strictObject({ print: printer.print.unwrap() }).partial(),
    mqtt: z.strictObject({ drainRatePerSecond: mqtt.drainRatePerSecond.unwrap(), telemetrySeconds: mqtt.telemetrySeconds.unwrap() }).partial(),
    log: z.strictObject({ level: remoteLogLevelSchema }).partial(),
  })
  .partial()
  .refine((changes) => Object.values(changes).some((section) => Object.keys(section).length > 0), 'no changes given');
export type RemoteConfigChanges = z.infer<typeof remoteConfigChangesSchema>;

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
  /** Run the self-test steps that need nobody at the counter; the result is the report. */
  z.object({ id: z.string().min(1).max(64), command: z.literal('selftest') }),
  /** Change operational settings in the config file; the bridge restarts itself to apply them. */
  z.object({ id: z.string().min(1).max(64), command: z.literal('update-config'), changes: remoteConfigChangesSchema }),
]);
export type Command = z.infer<typeof commandSchema>;

export const commandResultSchema = z.object({
  id: z.string().nullable(),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.string().optional(),
});
export type CommandResult = z.infer<typeof commandResultSchema>;
