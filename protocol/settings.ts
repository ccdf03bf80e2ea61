import { z } from 'zod';
import { DEFAULT_GRADE_CODE_PROFILE, gradeCodeProfileNameSchema } from './grades.js';
import { DEFAULT_RECORD_FORMAT, recordFormatNameSchema } from './record-formats/index.js';
import { DEFAULT_TOPIC_PREFIX } from './topics.js';

/**
 * The longest delay a timer keeps: Node and browsers run a longer one after 1 ms instead
 * (2^31-1 ms, 24.8 days). Every setting that arms a timer stays below it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A setting in seconds as the parts take it: whole milliseconds (the serial line takes no fractions: 16.1 s × 1000 is 16100.000000000002). */
export function secondsToMs(seconds: number): number {
  return Math.round(seconds * 1000);
}

/**
 * The bridge's operational settings, each defined once: its range and its default. The config
 * file's schema (bridge/config.ts) is built from these, and so is what the province may change
 * remotely (`update-config`, protocol/commands.ts), so the two can never disagree on a value.
 */
export const SETTINGS = {
  invitation: {
    /** How long the citizen has to press (DOMAIN: vendors use about 10 s to 60 s). */
    timeoutSeconds: z.number().min(1).max(600).default(30),
    /** Past timeout + grace with no word from the device, the bridge closes the invitation itself. */
    deviceGraceSeconds: z.number().min(0).max(600).default(10),
    /** After 不满意 / 非常不满意: how long the citizen has to pick a reason (then no_reason). */
    reasonTimeoutSeconds: z.number().min(1).max(120).default(15),
  },
  /** Honest ratings (`invitation.flags`): what gets flagged, never dropped. */
  invitationFlags: {
    /** A press sooner than this after the invitation: fast_press. */
    minPressMs: z.number().int().min(0).max(600_000).default(800),
    /** Stray presses this shortly before an invitation: stray_nearby. */
    strayWindowSeconds: z.number().min(0).max(3600).default(60),
    /** This many identical grades in a row within burstWindowMinutes: grade_burst. */
    burstCount: z.number().int().min(2).max(100).default(5),
    burstWindowMinutes: z.number().positive().max(1440).default(10),
  },
  mqtt: {
    topicPrefix: z.string().min(1).default(DEFAULT_TOPIC_PREFIX),
    gradeProfile: gradeCodeProfileNameSchema.default(DEFAULT_GRADE_CODE_PROFILE),
    /** The upstream record layout published (protocol/record-formats). */
    recordFormat: recordFormatNameSchema.default(DEFAULT_RECORD_FORMAT),
    /** Records published and awaiting the province's acknowledgement at most. */
    inflight: z.number().int().min(1).max(1000).default(64),
    /** A record not acknowledged within this is published again (the province dedupes by id). */
    ackTimeoutSeconds: z.number().min(0.1).max(3600).default(30),
    /** Pace of the backlog after an outage, records a second (live records go first); 0: no limit. */
    drainRatePerSecond: z
      .number()
      .min(0)
      .max(10_000)
      // Slower than this, the wait for the next record would outlast a timer (MAX_TIMER_MS).
      .refine((rate) => rate === 0 || rate >= 0.01, 'expected 0 (no limit) or at least 0.01 records a second')
      .default(20),
    /** Reconnect delay: exponential from min to max, with jitter. */
    reconnectMinSeconds: z.number().min(0.1).max(3600).default(1),
    reconnectMaxSeconds: z.number().min(0.1).max(3600).default(60),
    keepaliveSeconds: z.number().int().min(1).max(3600).default(30),
    telemetrySeconds: z.number().min(1).max(86_400).default(60),
  },
  printer: {
    /** always: a receipt for every invitation; not_rated: only when no rating was given; never. */
    print: z.enum(['always', 'not_rated', 'never']).default('not_rated'),
    /** No answer to a status request within this: offline. */
    statusTimeoutMs: z.number().int().min(50).max(10_000).default(1000),
    /** How often the paper and cover sensors are read. */
    pollSeconds: z.number().min(0.1).max(3600).default(10),
  },
  database: {
    /** At this size the terminal stops taking invitations (it never drops records to make room). */
    maxSizeMB: z.number().min(0.001).max(1_000_000).default(512),
    /** Acknowledged records are kept this long, then pruned; unsent records are never pruned. */
    retainAckedDays: z.number().min(0).max(3650).default(30),
  },
  clock: {
    /** ntp: trusted once the OS reports NTP sync or the province sends its time; system: always. */
    trust: z.enum(['ntp', 'system']).default('ntp'),
    /** Records made before the clock was trusted wait this long for a correction, then go flagged. */
    holdUnsyncedSeconds: z.number().min(0).max(86_400).default(300),
    /** How often to ask the OS whether NTP has synced. */
    ntpPollSeconds: z.number().min(1).max(3600).default(30),
  },
  log: {
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  },
};
