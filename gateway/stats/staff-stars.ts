import { GRADES, type Grade } from '../../protocol/grades.js';
import { staffIdSchema } from '../../protocol/http-api.js';
import { MAX_STARRED_STAFF, type StaffStars } from '../../protocol/province-config.js';
import { repeat, type Timers } from '../../protocol/timers.js';
import type { Scope } from '../accounts/scope.js';
import type { Database, Queryable } from '../db/database.js';
import type { Clock, Logger } from '../ports.js';
import { statistics } from './figures.js';

/** gateway.yaml `staffStars`: how the stars on the customer screen's staff card are made. */
export interface StaffStarsSettings {
  /** The ratings of the last this many days count. */
  days: number;
  /** A staff member with fewer ratings in that span gets no stars (too few to show). */
  minRatings: number;
  /** How often they are made again (and sent, where they changed). */
  refreshMinutes: number;
}

/** A hall as terminals and records name it. */
export interface HallPlace {
  areaCode: string;
  hallCode: string;
}

/** Each grade's score: 非常满意 5, 满意 4, 基本满意 3, 不满意 2, 非常不满意 1 (GRADES is in that order). */
const SCORE: Record<Grade, number> = Object.fromEntries(GRADES.map((grade, i) => [grade, GRADES.length - i])) as Record<Grade, number>;

/**
 * The stars of counted ratings: their mean score (5 … 1) rounded to the nearest half star, a mean
 * exactly between two halves rounded up (4.25 → 4.5); null without ratings.
 */
export function starsOf(grades: Readonly<Record<Grade, number>>): number | null {
  let ratings = 0;
  let total = 0;
  for (const grade of GRADES) {
    ratings += grades[grade];
    total += grades[grade] * SCORE[grade];
  }
  return ratings === 0 ? null : Math.round((2 * total) / ratings) / 2;
}

/** The key of a hall in the maps below. */
export function hallKey(place: HallPlace): string {
  return `${place.areaCode}/${place.hallCode}`;
}

/**
 * Every hall's staff stars as of `now` (docs/statistics.md, "Staff stars"): the figures by staff
 * (counted invitations, tests and flagged ones left out) of the last `days`, for each province
 * that has an approved terminal. Halls without a staff member at minRatings are left out.
 */
export async function staffStarsByHall(db: Queryable, q: { now: Date; timeZone: string; cancelsPerDay: number; days: number; minRatings: number }): Promise<Map<string, StaffStars>> {
  const { rows } = await db.query<{ province: string }>(
    "SELECT DISTINCT left(area_code, 2) AS province FROM terminals WHERE status = 'approved' AND area_code ~ '^[0-9]{6}$' ORDER BY 1",
  );
  const period = { from: new Date(q.now.getTime() - q.days * 86_400_000), to: q.now };
  const byHall = new Map<string, StaffStars['staff']>();
  for (const { province } of rows) {
    const scope: Scope = { role: 'province', areaPrefix: province, hallCode: null };
    const figures = await statistics(db, { scope, period, timeZone: q.timeZone, by: 'staff', includeFlagged: false, cancelsPerDay: q.cancelsPerDay });
    for (const row of figures) {
      const [areaCode = '', hallCode = '', staffId = ''] = row.parts;
      const stars = starsOf(row.grades);
      // No 工号 (nobody signed in) or one the protocol would refuse: nobody to show it for.
      if (stars === null || row.rated < q.minRatings || !staffIdSchema.safeParse(staffId).success) continue;
      const key = hallKey({ areaCode, hallCode });
      const staff = byHall.get(key) ?? [];
      staff.push({ staffId, stars, ratings: row.rated });
      byHall.set(key, staff);
    }
  }
  const asOf = q.now.toISOString();
  return new Map(
    [...byHall].map(([key, staff]) => {
      // Bounded: the most rated when a hall has more (never in practice); listed by 工号.
      const kept = staff.length > MAX_STARRED_STAFF ? [...staff].sort((a, b) => b.ratings - a.ratings).slice(0, MAX_STARRED_STAFF) : staff;
      kept.sort((a, b) => (a.staffId < b.staffId ? -1 : a.staffId > b.staffId ? 1 : 0));
      return [key, { asOf, days: q.days, minRatings: q.minRatings, staff: kept }];
    }),
  );
}

/** Whether two halls' stars would show the same: the same staff with the same stars (asOf and the counts aside). */
export function sameStars(a: StaffStars | undefined, b: StaffStars | undefined): boolean {
  const shown = (s: StaffStars | undefined): string => JSON.stringify(s?.staff.map((m) => [m.staffId, m.stars]) ?? []);
  return shown(a) === shown(b);
}

export interface StaffStarsServiceDeps {
  db: Database;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  settings: StaffStarsSettings;
  timeZone: string;
  cancelsPerDay: number;
  /** Publishes the config of every approved terminal of these halls again (the registry). */
  republish: (halls: readonly HallPlace[]) => Promise<number>;
}

/**
 * The staff stars each terminal's retained config carries: made at start and every
 * refreshMinutes; the halls whose stars changed (a staff member's stars, or who has any) have
 * their terminals' configs published again, and only those. Made on every instance alike (the
 * same figures from the same database: a second publication retains the same stars).
 */
export class StaffStarsService {
  readonly #deps: StaffStarsServiceDeps;
  #byHall = new Map<string, StaffStars>();
  #stopTimer: (() => void) | undefined;
  #refreshing: Promise<number> | undefined;
  #stopped = false;

  constructor(deps: StaffStarsServiceDeps) {
    this.#deps = deps;
  }

  /** The stars a terminal of this hall is sent (undefined: none yet, or none at minRatings). */
  of(place: { areaCode: string | null; hallCode: string | null }): StaffStars | undefined {
    if (place.areaCode === null || place.hallCode === null) return undefined;
    return this.#byHall.get(hallKey({ areaCode: place.areaCode, hallCode: place.hallCode }));
  }

  /** Makes them now (in the background: a failure is logged and the last ones kept), then every refreshMinutes. */
  start(): void {
    if (this.#stopTimer || this.#stopped) return;
    void this.refresh();
    this.#stopTimer = repeat(this.#deps.timers, this.#deps.settings.refreshMinutes * 60_000, () => void this.refresh());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopTimer?.();
    await this.#refreshing;
  }

  /** Makes every hall's stars again and republishes the halls whose stars changed; answers how many halls. Never rejects; one at a time. */
  refresh(): Promise<number> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refresh(): Promise<number> {
    const { db, clock, logger, settings, timeZone, cancelsPerDay, republish } = this.#deps;
    let next: Map<string, StaffStars>;
    try {
      next = await staffStarsByHall(db, { now: clock.now(), timeZone, cancelsPerDay, days: settings.days, minRatings: settings.minRatings });
    } catch (err) {
      logger.error({ err }, 'staff stars: the statistics could not be read; the stars sent before stay');
      return 0;
    }
    if (this.#stopped) return 0;
    const changed: HallPlace[] = [];
    for (const key of new Set([...this.#byHall.keys(), ...next.keys()])) {
      if (sameStars(this.#byHall.get(key), next.get(key))) {
        // Unchanged: keep what was sent (its asOf and counts are what the terminals hold).
        const kept = this.#byHall.get(key);
        if (kept) next.set(key, kept);
        continue;
      }
      const [areaCode = '', hallCode = ''] = splitKey(key);
      changed.push({ areaCode, hallCode });
    }
    // A hall that lost every star is sent an empty list: a config that leaves the part out would leave the old stars on its terminals.
    for (const place of changed) if (!next.has(hallKey(place))) next.set(hallKey(place), { asOf: clock.now().toISOString(), days: settings.days, minRatings: settings.minRatings, staff: [] });
    this.#byHall = next;
    if (changed.length === 0) return 0;
    try {
      const published = await republish(changed);
      logger.info({ halls: changed.length, configsPublished: published }, 'staff stars: changed; the halls’ terminal configs published again');
    } catch (err) {
      logger.error({ err }, 'staff stars: publishing the changed halls failed; they are sent with the next config');
    }
    return changed.length;
  }
}

function splitKey(key: string): [string, string] {
  const at = key.indexOf('/');
  return [key.slice(0, at), key.slice(at + 1)];
}
