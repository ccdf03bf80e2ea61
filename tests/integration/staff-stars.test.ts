import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { Database } from '../../gateway/db/database.js';
import { TerminalRegistry } from '../../gateway/registry/terminal-registry.js';
import { StaffStarsService, staffStarsByHall } from '../../gateway/stats/staff-stars.js';
import type { Grade } from '../../protocol/grades.js';
import { provinceConfigSchema, type ProvinceConfig } from '../../protocol/province-config.js';
import { databasePerTest, gatewayDatabaseEngines } from '../support/db-engines.js';
import { ManualTimers } from '../support/manual-timers.js';
import { shanghai, storeFixture, TERMINALS, ZONE, type FixtureInvitation, type FixtureLater } from './stats-fixture.js';

/*
 * Staff stars from the statistics (docs/statistics.md, "Staff stars"), worked by hand. Scores:
 * 非常满意 5, 满意 4, 基本满意 3, 不满意 2, 非常不满意 1; the mean rounded to half stars; at least
 * 10 counted ratings in the last 90 days.
 *
 * Hall 330106/H01:
 *   S1: 6 × 非常满意, 2 × 满意, 1 × 基本满意, 1 × 不满意 = 30 + 8 + 3 + 2 = 43 over 10 = 4.3 → 8.6 half
 *       stars → 9 → 4.5 ★. Not counted: a test (非常不满意), a flagged fast press (非常不满意), a
 *       cancel, and a 非常不满意 100 days ago (before the 90 days).
 *   S2: 9 × 非常满意: too few (9 < 10), not listed.
 * Hall 330108/H02:
 *   S3: 5 × 满意, 5 × 基本满意 and a not-rated invitation rated 非常满意 later on the receipt page
 *       = 20 + 15 + 5 = 40 over 11 = 3.64 → 7.27 → 7 → 3.5 ★.
 * Hall 330203/H03: only 3 ratings: no stars, not in the map.
 */

const NOW = shanghai('11-30 12:00');
const SETTINGS = { days: 90, minRatings: 10, refreshMinutes: 60 };
const QUERY = { now: NOW, timeZone: ZONE, cancelsPerDay: 5, days: 90, minRatings: 10 };

let seq = 0;
function ratings(terminal: FixtureInvitation['terminal'], staff: string, grade: Grade, n: number, extra: Partial<FixtureInvitation> = {}): FixtureInvitation[] {
  return Array.from({ length: n }, () => ({ name: `r${++seq}`, terminal, at: '11-20 10:00', staff, outcome: 'rated' as const, grade, ...extra }));
}

const INVITATIONS: FixtureInvitation[] = [
  ...ratings('T1', 'S1', 'very_satisfied', 6),
  ...ratings('T2', 'S1', 'satisfied', 2),
  ...ratings('T1', 'S1', 'basically_satisfied', 1),
  ...ratings('T1', 'S1', 'dissatisfied', 1),
  ...ratings('T1', 'S1', 'very_dissatisfied', 1, { test: true }),
  ...ratings('T1', 'S1', 'very_dissatisfied', 1, { flags: ['fast_press'] }),
  ...ratings('T1', 'S1', 'very_dissatisfied', 1, { at: '08-22 10:00' }),
  { name: 'cancel', terminal: 'T1', at: '11-20 11:00', staff: 'S1', outcome: 'cancelled' },
  ...ratings('T2', 'S2', 'very_satisfied', 9),
  ...ratings('T3', 'S3', 'satisfied', 5),
  ...ratings('T3', 'S3', 'basically_satisfied', 5),
  { name: 'later', terminal: 'T3', at: '11-21 09:00', staff: 'S3', outcome: 'not_rated' },
  ...ratings('T4', 'S4', 'very_satisfied', 3),
];
const LATER: FixtureLater[] = [{ invitation: 'later', assessNumber: 1, grade: 'very_satisfied', via: 'receipt', at: '11-21 10:00' }];

const H01 = { asOf: NOW.toISOString(), days: 90, minRatings: 10, staff: [{ staffId: 'S1', stars: 4.5, ratings: 10 }] };
const H02 = { asOf: NOW.toISOString(), days: 90, minRatings: 10, staff: [{ staffId: 'S3', stars: 3.5, ratings: 11 }] };

/** A publisher that keeps each topic's last retained message. */
function retained(): { publish: (topic: string, payload: string) => Promise<void>; configOf: (terminalId: string) => ProvinceConfig | undefined; count: () => number } {
  const last = new Map<string, string>();
  let count = 0;
  return {
    publish: (topic, payload) => {
      last.set(topic, payload);
      count += 1;
      return Promise.resolve();
    },
    configOf: (terminalId) => {
      const text = last.get(`hcp/v1/${terminalId}/config`);
      return text === undefined ? undefined : provinceConfigSchema.parse(JSON.parse(text));
    },
    count: () => count,
  };
}

const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 2 });

for (const engine of engines) {
  describe(`staff stars on ${engine.name}`, () => {
    const database = databasePerTest(engine);

    it('each hall’s stars as worked by hand: tests, flagged, cancelled and old ratings left out, a later rating counted, too few not listed', async () => {
      const db = database();
      await storeFixture(db, { invitations: INVITATIONS, later: LATER });
      const stars = await staffStarsByHall(db, QUERY);
      expect(Object.fromEntries(stars)).toEqual({ '330106/H01': H01, '330108/H02': H02 });
      // Every one passes the schema the bridge reads it with.
      for (const value of stars.values()) expect(provinceConfigSchema.parse({ staffStars: value }).staffStars).toEqual(value);
      // With 9 enough, S2 is listed too: 9 × 5 = 5 ★.
      const nine = await staffStarsByHall(db, { ...QUERY, minRatings: 9 });
      expect(nine.get('330106/H01')?.staff).toEqual([
        { staffId: 'S1', stars: 4.5, ratings: 10 },
        { staffId: 'S2', stars: 5, ratings: 9 },
      ]);
    });

    it('each terminal’s retained config carries its hall’s stars; a refresh republishes only the halls whose stars changed', async () => {
      const db = database();
      await storeFixture(db, { invitations: INVITATIONS, later: LATER });
      const { service, registry, publisher, timers } = wire(db);
      // At start the stars are not made yet: with nothing else to send, one query, no terminal walked, nothing sent.
      const query = vi.spyOn(db, 'query');
      expect(await registry.publishConfigs()).toBe(0);
      expect(query).toHaveBeenCalledTimes(1);
      query.mockRestore();
      expect(publisher.count()).toBe(0);
      service.start();
      await service.refresh();
      expect(publisher.configOf(TERMINALS.T1.id)?.staffStars).toEqual(H01);
      expect(publisher.configOf(TERMINALS.T2.id)?.staffStars).toEqual(H01);
      expect(publisher.configOf(TERMINALS.T3.id)?.staffStars).toEqual(H02);
      expect(publisher.configOf(TERMINALS.T4.id)).toBeUndefined();
      // Published at start by the registry too: the stars go with every config.
      expect(await registry.publishConfigs()).toBe(3);
      // The halls whose stars changed: their terminals and places in one query, not one query a terminal.
      const republish = vi.spyOn(db, 'query');
      expect(await registry.publishConfigsAt([{ areaCode: '330106', hallCode: 'H01' }])).toBe(2);
      expect(republish).toHaveBeenCalledTimes(1);
      republish.mockRestore();

      // An hour on, with nothing new: nothing is sent.
      const before = publisher.count();
      timers.advance(60 * 60_000);
      expect(await service.refresh()).toBe(0);
      expect(publisher.count()).toBe(before);

      // Two more 非常不满意 for S3: 42 over 13 = 3.23 → 6.46 → 6 → 3 ★: H02's terminal only is sent them.
      await storeFixture(db, { invitations: ratings('T3', 'S3', 'very_dissatisfied', 2), later: [] });
      expect(await service.refresh()).toBe(1);
      expect(publisher.configOf(TERMINALS.T3.id)?.staffStars?.staff).toEqual([{ staffId: 'S3', stars: 3, ratings: 13 }]);
      expect(publisher.count()).toBe(before + 1);

      // One more 满意 for S1: 47 over 11 = 4.27 → 8.55 → 9: still 4.5 ★, so not sent (ratings as last sent).
      await storeFixture(db, { invitations: ratings('T1', 'S1', 'satisfied', 1), later: [] });
      expect(await service.refresh()).toBe(0);
      expect(publisher.configOf(TERMINALS.T1.id)?.staffStars?.staff).toEqual([{ staffId: 'S1', stars: 4.5, ratings: 10 }]);
      await service.stop();
    });

    it('a hall whose staff all fall below minRatings is sent an empty list (leaving the part out would leave the old stars)', async () => {
      const db = database();
      await storeFixture(db, { invitations: INVITATIONS, later: LATER });
      const { service, publisher } = wire(db);
      await service.refresh();
      await db.query("UPDATE records SET test = true WHERE staff_id = 'S3'");
      expect(await service.refresh()).toBe(1);
      expect(publisher.configOf(TERMINALS.T3.id)?.staffStars).toMatchObject({ staff: [] });
      expect(publisher.configOf(TERMINALS.T1.id)?.staffStars).toEqual(H01);
    });
  });
}

function wire(db: Database): { service: StaffStarsService; registry: TerminalRegistry; publisher: ReturnType<typeof retained>; timers: ManualTimers } {
  const publisher = retained();
  const timers = new ManualTimers();
  const logger = pino({ level: 'silent' });
  const clock = { now: () => NOW };
  const late: { registry?: TerminalRegistry } = {};
  const service = new StaffStarsService({ db, clock, timers, logger, settings: SETTINGS, timeZone: ZONE, cancelsPerDay: 5, republish: (halls) => late.registry!.publishConfigsAt(halls) });
  const registry = (late.registry = new TerminalRegistry({ db, publisher, prefix: 'hcp/v1', clock, logger, approval: 'manual', terminalConfig: () => undefined, staffStars: (place) => service.of(place) }));
  return { service, registry, publisher, timers };
}
