import { hostTimers, type Timers } from '../../protocol/timers.js';
import type { Database } from '../db/database.js';
import type { AlertRow } from './alert-store.js';
import { backoffDelay, Sleeper } from '../delivery/backoff.js';
import { storableText } from '../delivery/storable.js';
import { withoutSecrets } from '../ingest/record-ingest.js';
import type { Clock, Logger } from '../ports.js';
import { withoutAddresses, type AlertChannel, type SendResult } from './channels/channel.js';
import { ALERT_KINDS, type AlertKind } from './detail.js';
import { alertMessage, type AlertMessage, type MessageAlert, type MessageOptions } from './message.js';

export interface AlertNotifierDeps {
  db: Database;
  channels: readonly AlertChannel[];
  /** This instance's name (gateway.yaml `instance`): its claims carry it. */
  instance: string;
  /** Wall time: due times, claims, DingTalk's timestamp. */
  clock: Clock;
  /** Waits (polls, backoffs). Default: the host's. */
  timers?: Timers;
  logger: Logger;
  /** alerts.repeatMinutes: an alert not acknowledged is sent again this often … */
  repeatMinutes: number;
  /** … alerts.maxRepeats times at most after the first. */
  maxRepeats: number;
  timeZone: string;
  /** dashboard.publicUrl: the link in each message. */
  dashboardUrl?: string | undefined;
  reasonLabel?: MessageOptions['reasonLabel'];
  /** How often to look for due alerts without a kick (repeats, other instances' alerts). Default 5 s. */
  pollMs?: number;
  /** Alerts claimed at a time (sent together). Default 10. */
  batchSize?: number;
  /** A claim's lease: longer than a send's timeout. Default 80 s. */
  leaseMs?: number;
  /**
   * A channel that failed is tried again alone after about this, doubling each time (with jitter:
   * half to all of it); once the wait would reach repeatMinutes, it gets the next repeat with every
   * channel instead. Default 30 s.
   */
  retryMs?: number;
  /** The jitter's randomness, in [0, 1). Default Math.random. */
  random?: () => number;
}

export interface ChannelStatus {
  name: string;
  kind: AlertChannel['kind'];
  sent: number;
  failed: number;
  lastError: { at: Date; message: string } | null;
}

export interface AlertNotifierStatus {
  instance: string;
  running: boolean;
  /** Messages accepted by a channel (one alert to three channels: 3). */
  sent: number;
  failed: number;
  /** Alerts claimed at the last look (up to a batch). */
  due: number;
  /** Looks for due alerts made so far (a test awaits the next one). */
  looks: number;
  /** Waiting for the next poll or a kick (nothing in hand). */
  idle: boolean;
  lastError: { at: Date; message: string } | null;
  lastSentAt: Date | null;
  dbFailures: number;
  /** A claim that changed while its alert was being sent (its lease ran out and another instance took it). */
  lostClaims: number;
  channels: ChannelStatus[];
}

type ClaimRow = Pick<AlertRow, 'id' | 'kind' | 'terminal_id' | 'area_code' | 'hall_code' | 'window_no' | 'detail' | 'occurred_at' | 'notify_count'> & {
  notify_owed: string[] | null;
  notify_attempts: number;
};

interface Claim {
  alert: MessageAlert;
  owed: string[] | null;
  attempts: number;
  claimedAt: Date;
}

/**
 * Sends due alerts to every channel, and again every repeatMinutes until a duty manager
 * acknowledges them (or the fault clears, or maxRepeats is used up).
 *
 * Claims are leases, the way gateway/delivery/claims.ts takes deliveries: a short statement takes
 * due rows FOR UPDATE SKIP LOCKED and moves their notify_due_at to the lease's end, so that no
 * other instance sends them meanwhile; the sends run outside any transaction (on PGlite one
 * connection serves the ingest too); the result is written only while the claim still holds.
 * A send goes to every channel at once; the channels that failed are kept in notify_owed and
 * tried again alone, after a backoff, so that a broken robot neither blocks nor repeats the others.
 */
export class AlertNotifier {
  readonly #deps: AlertNotifierDeps;
  readonly #timers: Timers;
  readonly #sleeper: Sleeper;
  readonly #pollMs: number;
  readonly #batchSize: number;
  readonly #leaseMs: number;
  readonly #retryMs: number;
  readonly #random: () => number;
  readonly #channels: Map<string, ChannelStatus>;
  #stats = { sent: 0, failed: 0, due: 0, looks: 0, lastError: null as { at: Date; message: string } | null, lastSentAt: null as Date | null, dbFailures: 0, lostClaims: 0 };
  #loop: Promise<void> | undefined;
  #stopping = false;
  #idle = false;
  #kicked = false;
  #dbFailuresInRow = 0;

  constructor(deps: AlertNotifierDeps) {
    this.#deps = deps;
    this.#timers = deps.timers ?? hostTimers;
    this.#sleeper = new Sleeper(this.#timers);
    this.#pollMs = deps.pollMs ?? 5000;
    this.#batchSize = Math.max(1, deps.batchSize ?? 10);
    this.#leaseMs = deps.leaseMs ?? 80_000;
    this.#retryMs = deps.retryMs ?? 30_000;
    this.#random = deps.random ?? Math.random;
    this.#channels = new Map(deps.channels.map((c) => [c.name, { name: c.name, kind: c.kind, sent: 0, failed: 0, lastError: null }]));
  }

  /** Puts back this instance's claims from before a restart, then runs until stop(). */
  async start(): Promise<void> {
    if (this.#loop || this.#stopping) return;
    const { db, instance, clock, logger } = this.#deps;
    if (this.#deps.channels.length === 0) {
      logger.info({}, 'alerts: no channels configured; alerts are shown on the dashboard only');
      return;
    }
    const { rows } = await db.query(`UPDATE alerts SET claimed_at = NULL, notify_due_at = $2 WHERE claimed_by = $1 AND claimed_at IS NOT NULL AND notify_due_at IS NOT NULL RETURNING 1 AS one`, [instance, clock.now()]);
    if (rows.length > 0) logger.warn({ released: rows.length }, 'alerts: sends left by this instance before a restart are due again (a channel may get one twice)');
    this.#loop = this.#run().catch((err: unknown) => {
      logger.error({ err }, 'alerts: the notifier stopped on a bug');
    });
  }

  /** Ends after the sends in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#sleeper.close();
    await this.#loop;
  }

  /** Looks for due alerts now (a batch was stored, a fault raised) instead of at the next poll. */
  kick(): void {
    this.#kicked = true;
    if (this.#idle) this.#sleeper.wake();
  }

  status(): AlertNotifierStatus {
    return {
      instance: this.#deps.instance,
      running: this.#loop !== undefined && !this.#stopping,
      idle: this.#idle,
      ...this.#stats,
      channels: [...this.#channels.values()].map((c) => ({ ...c })),
    };
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      this.#kicked = false;
      let claims: Claim[];
      try {
        claims = await this.#claim();
        this.#dbFailuresInRow = 0;
        this.#stats.looks += 1;
      } catch (err) {
        await this.#dbFailed(err, 'claiming due alerts');
        continue;
      }
      this.#stats.due = claims.length;
      if (claims.length === 0) {
        if (this.#kicked) continue;
        this.#idle = true;
        await this.#sleeper.sleep(this.#pollMs);
        this.#idle = false;
        continue;
      }
      await Promise.all(claims.map((claim) => this.#send(claim)));
    }
  }

  async #claim(): Promise<Claim[]> {
    const { db, instance, clock } = this.#deps;
    const now = clock.now();
    const { rows } = await db.query<ClaimRow>(
      `WITH due AS (
         SELECT id FROM alerts WHERE notify_due_at <= $1 AND cleared_at IS NULL AND acknowledged_at IS NULL
          ORDER BY notify_due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
       )
       UPDATE alerts a SET claimed_by = $3, claimed_at = $1, notify_due_at = $4 FROM due WHERE a.id = due.id
       RETURNING a.id::text AS id, a.kind, a.terminal_id, a.area_code, a.hall_code, a.window_no, a.detail, a.occurred_at, a.notify_count, a.notify_owed, a.notify_attempts`,
      [now, this.#batchSize, instance, new Date(now.getTime() + this.#leaseMs)],
    );
    return rows.map((row) => ({
      alert: {
        id: row.id,
        kind: (ALERT_KINDS as readonly string[]).includes(row.kind) ? (row.kind as AlertKind) : 'bad_review',
        terminalId: row.terminal_id,
        areaCode: row.area_code,
        hallCode: row.hall_code,
        windowNo: row.window_no,
        detail: row.detail,
        occurredAt: row.occurred_at,
        notifyCount: row.notify_count,
      },
      owed: row.notify_owed,
      attempts: row.notify_attempts,
      claimedAt: now,
    }));
  }

  async #send(claim: Claim): Promise<void> {
    const { logger, timeZone, dashboardUrl, reasonLabel } = this.#deps;
    const channels = claim.owed === null ? this.#deps.channels : this.#deps.channels.filter((c) => claim.owed?.includes(c.name));
    let message: AlertMessage | undefined;
    let unmade = '';
    try {
      message = alertMessage(claim.alert, { timeZone, dashboardUrl, reasonLabel });
    } catch (err) {
      // Never by its tests; a reasonLabel given by the wiring might throw.
      unmade = `the message could not be made: ${withoutSecrets(err)}`;
    }
    const results = await Promise.all(
      channels.map(async (channel): Promise<[AlertChannel, SendResult]> => {
        try {
          if (message === undefined) return [channel, { ok: false, message: unmade }];
          return [channel, await channel.send(message, claim.alert)];
        } catch (err) {
          // A channel never rejects by contract; if one does, it failed.
          return [channel, { ok: false, message: withoutSecrets(err) }];
        }
      }),
    );
    const now = this.#deps.clock.now();
    const failed: { name: string; message: string }[] = [];
    for (const [channel, result] of results) {
      const stats = this.#channels.get(channel.name);
      if (result.ok) {
        this.#stats.sent += 1;
        this.#stats.lastSentAt = now;
        if (stats) stats.sent += 1;
      } else {
        // A channel names no address by contract; a bug's message might: cut them here too.
        const message = storableText(withoutAddresses(result.message), 300);
        failed.push({ name: channel.name, message });
        this.#stats.failed += 1;
        this.#stats.lastError = { at: now, message: `${channel.name}: ${message}` };
        if (stats) {
          stats.failed += 1;
          stats.lastError = { at: now, message };
        }
      }
    }
    try {
      const held = failed.length === 0 ? await this.#done(claim, now, null) : await this.#retryLater(claim, now, failed, failed.length < results.length);
      if (!held) {
        this.#stats.lostClaims += 1;
        logger.warn({ alert: claim.alert.id }, 'alerts: the alert was taken over while it was being sent (its claim ran out); left as it is');
      }
    } catch (err) {
      // Its claim runs out by itself; the channels then get it again.
      await this.#dbFailed(err, `recording alert ${claim.alert.id}'s send`);
    }
    if (failed.length > 0) logger.warn({ alert: claim.alert.id, kind: claim.alert.kind, failed }, 'alerts: a channel did not take the alert; tried again later');
    else logger.info({ alert: claim.alert.id, kind: claim.alert.kind, repeat: claim.alert.notifyCount, channels: results.length }, 'alerts: sent');
  }

  /**
   * This send is over: every channel has it, or (`failure`) a channel kept failing until its retry
   * reached the next repeat. The next repeat, to every channel, is due unless acknowledged, cleared
   * or the repeats are used up.
   */
  async #done(claim: Claim, now: Date, failure: { error: string; someSent: boolean } | null): Promise<boolean> {
    const next = new Date(now.getTime() + this.#deps.repeatMinutes * 60_000);
    const { rows } = await this.#deps.db.query(
      `UPDATE alerts SET notify_count = notify_count + 1, notified_at = CASE WHEN $7 THEN $4::timestamptz ELSE notified_at END, notify_error = $8,
              notify_owed = NULL, notify_attempts = 0, claimed_at = NULL,
              notify_due_at = CASE WHEN acknowledged_at IS NULL AND cleared_at IS NULL AND notify_count + 1 <= $5 THEN $6::timestamptz ELSE NULL END
        WHERE id = $1::bigint AND claimed_by = $2 AND claimed_at = $3 RETURNING 1 AS one`,
      [claim.alert.id, this.#deps.instance, claim.claimedAt, now, this.#deps.maxRepeats, next, failure === null || failure.someSent, failure?.error ?? null],
    );
    return rows.length > 0;
  }

  /**
   * Some channels failed: only they are tried again, after a backoff, so that they neither hold
   * back nor repeat the others. Once the backoff reaches repeatMinutes the send is over for them
   * too (#done): they get the next repeat with every channel, and maxRepeats applies to it.
   */
  async #retryLater(claim: Claim, now: Date, failed: { name: string; message: string }[], someSent: boolean): Promise<boolean> {
    const error = storableText(failed.map((f) => `${f.name}: ${f.message}`).join('; '), 1000);
    const repeatMs = this.#deps.repeatMinutes * 60_000;
    const attempt = claim.attempts + 1;
    if (this.#retryMs * 2 ** Math.min(attempt - 1, 40) >= repeatMs) return this.#done(claim, now, { error, someSent });
    const wait = backoffDelay(attempt, { baseMs: this.#retryMs, maxMs: repeatMs }, this.#random);
    const { rows } = await this.#deps.db.query(
      `UPDATE alerts SET notify_owed = $4::text[], notify_attempts = notify_attempts + 1, notify_error = $5, claimed_at = NULL,
              notified_at = CASE WHEN $6 THEN $7::timestamptz ELSE notified_at END,
              notify_due_at = CASE WHEN acknowledged_at IS NULL AND cleared_at IS NULL THEN $8::timestamptz ELSE NULL END
        WHERE id = $1::bigint AND claimed_by = $2 AND claimed_at = $3 RETURNING 1 AS one`,
      [claim.alert.id, this.#deps.instance, claim.claimedAt, failed.map((f) => f.name), error, someSent, now, new Date(now.getTime() + wait)],
    );
    return rows.length > 0;
  }

  async #dbFailed(err: unknown, what: string): Promise<void> {
    this.#stats.dbFailures += 1;
    this.#dbFailuresInRow += 1;
    const message = withoutSecrets(err);
    this.#stats.lastError = { at: this.#deps.clock.now(), message: `${what}: ${message}` };
    const pause = Math.min(1000 * 2 ** Math.min(this.#dbFailuresInRow - 1, 10), 60_000);
    this.#deps.logger.error({ error: message, pauseMs: pause }, `alerts: the database failed ${what}`);
    if (!this.#stopping) await this.#sleeper.sleep(pause);
  }
}
