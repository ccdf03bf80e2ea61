import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Database } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import { openTestPglite } from '../support/pglite-template.js';
import { readTelemetry, type TelemetryView } from '../../gateway/live/telemetry-view.js';
import { liveWindows } from '../../gateway/live/windows.js';
import { ALARM_CODES } from '../../protocol/alarms.js';
import { PRINTER_CONDITIONS } from '../../protocol/printer.js';
import { TELEMETRY_DESK_ITEMS, telemetrySchema, type TelemetryBody } from '../../protocol/telemetry.js';

/**
 * readTelemetry and liveWindows fed hostile telemetry (any value, JSON of any shape, valid
 * reports with one part broken, prototype keys, NULs and lone surrogates). Invariants: never a
 * throw; every part of the view is exactly the view's shape (nothing unparsed leaks through: no
 * extra key, no wrong type); a valid report reads back whole; a broken part nulls only itself.
 */
const SEED = 20261130;

const nasty = fc.constantFrom('\u0000', '\ud800', 'a\u0000b', '😀', '', ' ', 'x'.repeat(300), '<script>alert(1)</script>', "'; DROP TABLE terminals; --", '__proto__', 'constructor');
const anyString = fc.oneof(fc.string({ maxLength: 40 }), nasty);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  anyString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(anyString, { maxLength: 3 }),
  fc.anything({ maxDepth: 2, withNullPrototype: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withBigInt: true }),
);

const count = fc.nat({ max: 1_000_000 });
const iso = fc.date({ min: new Date('2020-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
const staffId = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);
const item = fc.record({ itemCode: fc.stringMatching(/^[A-Z0-9-]{1,64}$/), itemName: fc.option(fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() === s && s.length > 0), { nil: undefined }) }).map(({ itemCode, itemName }) =>
  itemName === undefined ? { itemCode } : { itemCode, itemName },
);

/** A report the bridge could send. */
const validBody: fc.Arbitrary<TelemetryBody> = fc.record({
  at: iso,
  place: fc.record({ areaCode: fc.stringMatching(/^\d{6}$/), hallCode: fc.stringMatching(/^[A-Z0-9-]{1,64}$/), hallName: fc.option(fc.constantFrom('西湖区政务服务中心', 'Hall 1'), { nil: null }), windowNo: fc.stringMatching(/^[A-Z0-9]{1,16}$/) }),
  beatSeconds: fc.integer({ min: 1, max: 86_400 }),
  alarms: fc.uniqueArray(fc.constantFrom(...ALARM_CODES), { maxLength: ALARM_CODES.length }),
  backlog: fc.record({ pending: count, quarantined: count, oldestPendingAgeMs: fc.option(count, { nil: null }) }),
  link: fc.record({ alive: fc.boolean(), portOpen: fc.boolean(), serial: fc.option(fc.string({ maxLength: 20 }), { nil: null }), fw: fc.option(fc.string({ maxLength: 20 }), { nil: null }), rejectedFrames: fc.dictionary(fc.constantFrom('crc', 'length', 'json'), count) }),
  uplink: fc.record({ inflight: count, backlogToDrain: count, heldForClock: count, unexpectedAcks: count }),
  clock: fc.record({ synced: fc.boolean(), trustedFrom: fc.option(fc.constantFrom('ntp', 'ack'), { nil: null }) }),
  storage: fc.record({ usedBytes: count, capBytes: count, full: fc.boolean(), fault: fc.constant(null) }),
  printer: fc.option(fc.record({ condition: fc.constantFrom(...(Object.keys(PRINTER_CONDITIONS) as (keyof typeof PRINTER_CONDITIONS)[])), pending: count, printed: count }), { nil: null }),
  desk: fc.record({
    staffId: fc.option(staffId, { nil: null }),
    invitation: fc.option(fc.record({ invitedAt: iso, mode: fc.constantFrom('single', 'batch', 'theme'), items: fc.array(item, { maxLength: TELEMETRY_DESK_ITEMS }), cases: count }), { nil: null }),
    // Absent from bridges before pause (暂停服务) was reported.
    paused: fc.boolean(),
  }, { requiredKeys: ['staffId', 'invitation'] }),
});

const PARTS = ['at', 'place', 'beatSeconds', 'alarms', 'backlog', 'clock', 'printer', 'desk'] as const;

/** A valid report with one part (or one part's field) replaced by anything, or an extra key. */
const brokenBody = fc.tuple(validBody, fc.constantFrom(...PARTS, 'desk.invitation', 'desk.staffId', 'desk.paused', 'backlog.pending', 'printer.condition', '__proto__', 'extra'), anyValue).map(([original, where, value]) => {
  const body = JSON.parse(JSON.stringify(original)) as Record<string, unknown>;
  const [part, field] = where.split('.') as [string, string | undefined];
  if (field === undefined) Object.defineProperty(body, part, { value, enumerable: true, configurable: true, writable: true });
  else if (typeof body[part] === 'object' && body[part] !== null) (body[part] as Record<string, unknown>)[field] = value;
  return { original, body, part };
});

/** The view's exact shape: strict objects, so that an extra key is a failure. */
const strictView = z.strictObject({
  at: z.date().nullable(),
  place: z.strictObject({ areaCode: z.string().regex(/^\d{6}$/), hallCode: z.string().min(1).max(64), hallName: z.string().max(100).nullable(), windowNo: z.string().min(1).max(16) }).nullable(),
  beatSeconds: z.number().int().min(1).max(86_400).nullable(),
  alarms: z.array(z.enum(ALARM_CODES as [string, ...string[]])).nullable(),
  backlog: z.strictObject({ pending: z.number().int().nonnegative(), oldestPendingAgeMs: z.number().int().nonnegative().nullable() }).nullable(),
  clock: z.strictObject({ synced: z.boolean() }).nullable(),
  printer: z.strictObject({ condition: z.enum(Object.keys(PRINTER_CONDITIONS) as [string, ...string[]]) }).nullable(),
  desk: z
    .strictObject({
      staffId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).nullable(),
      invitation: z
        .strictObject({
          invitedAt: z.iso.datetime({ offset: true }),
          mode: z.enum(['single', 'batch', 'theme']),
          items: z.array(z.strictObject({ itemCode: z.string().min(1).max(64), itemName: z.string().min(1).max(200).optional() })).max(TELEMETRY_DESK_ITEMS),
          cases: z.number().int().nonnegative(),
        })
        .nullable(),
      paused: z.boolean().nullable(),
    })
    .nullable(),
});

function expectShape(view: TelemetryView): void {
  const result = strictView.safeParse(view);
  expect(result.success, JSON.stringify(result.error?.issues)).toBe(true);
  if (view.alarms) expect(new Set(view.alarms).size).toBe(view.alarms.length);
  // Only own, plain data: nothing carried over from a prototype.
  expect(Object.getPrototypeOf(view)).toBe(Object.prototype);
}

/** What the view holds of a valid report. */
function expectedView(body: TelemetryBody): TelemetryView {
  return {
    at: new Date(body.at),
    place: body.place,
    beatSeconds: body.beatSeconds,
    alarms: body.alarms,
    backlog: { pending: body.backlog.pending, oldestPendingAgeMs: body.backlog.oldestPendingAgeMs },
    clock: { synced: body.clock.synced },
    printer: body.printer && { condition: body.printer.condition },
    desk: { ...body.desk, paused: body.desk.paused ?? null },
  };
}

describe('readTelemetry with hostile input', () => {
  it('never throws and gives only the view’s shape, for any value', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        expectShape(readTelemetry(value));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('never throws on objects whose fields are anything, or that throw when read', () => {
    const trap = (): object =>
      new Proxy(
        {},
        {
          get: () => {
            throw new Error('trap');
          },
          getOwnPropertyDescriptor: () => {
            throw new Error('trap');
          },
          has: () => {
            throw new Error('trap');
          },
        },
      );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...PARTS, 'link', 'extra'), fc.oneof(anyValue, fc.constant('TRAP'))), (fields) => {
        const body = Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, value === 'TRAP' ? trap() : value]));
        expectShape(readTelemetry(body));
      }),
      { seed: SEED, numRuns: 1000 },
    );
    expectShape(readTelemetry(trap()));
  });

  it('reads a valid report whole', () => {
    fc.assert(
      fc.property(validBody, (body) => {
        expect(telemetrySchema.safeParse(body).success).toBe(true);
        const view = readTelemetry(JSON.parse(JSON.stringify(body)));
        expectShape(view);
        expect(view).toEqual(expectedView(body));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('a broken part nulls itself at most, and the other parts read as they were', () => {
    fc.assert(
      fc.property(brokenBody, ({ original, body, part }) => {
        const view = readTelemetry(body);
        expectShape(view);
        const whole = expectedView(original);
        for (const key of PARTS) if (key !== part) expect(view[key], key).toEqual(whole[key]);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

describe('liveWindows with hostile telemetry in the database', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestPglite();
    await migrate(db);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('never throws; a terminal is placed by its telemetry only when the place is well formed', async () => {
    const jsonSafe = fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).includes('\\u0000'));
    const place = fc.oneof(
      fc.record({ areaCode: fc.oneof(fc.constant('330106'), anyString), hallCode: fc.oneof(fc.constant('H1'), anyString), windowNo: fc.oneof(fc.constant('07'), anyString, fc.integer()) }),
      jsonSafe,
    );
    const body = fc.oneof(
      fc.record({ place, desk: fc.oneof(jsonSafe, fc.record({ staffId: fc.oneof(staffId, anyString), invitation: jsonSafe })), alarms: jsonSafe, printer: jsonSafe }),
      validBody.map((b) => b as unknown),
      fc.dictionary(fc.string({ maxLength: 10 }), jsonSafe),
    );
    let n = 0;
    const outcomes = { placed: 0, unplaced: 0 };
    await fc.assert(
      fc.asyncProperty(body, async (telemetry) => {
        const text = JSON.stringify(telemetry);
        // The registry stores only what jsonb can hold (gateway/registry/state-messages.ts).
        fc.pre(!/\\u0000|\\ud[89ab]/i.test(text) && !/[\ud800-\udfff]/.test(text.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')));
        const id = `T-${++n}`;
        await db.query(`INSERT INTO terminals (terminal_id, status, first_seen, last_seen, online, telemetry, telemetry_at) VALUES ($1, 'approved', now(), now(), true, $2::jsonb, now())`, [id, text]);
        const windows = await liveWindows(db, { scope: { role: 'province', areaPrefix: '33', hallCode: null }, now: new Date() });
        const mine = windows.find((w) => w.terminalId === id);
        const view = readTelemetry(JSON.parse(text));
        const p = (telemetry as { place?: { areaCode?: unknown; hallCode?: unknown } } | null)?.place;
        const placed = typeof p?.areaCode === 'string' && /^33\d{4}$/.test(p.areaCode) && typeof p.hallCode === 'string' && p.hallCode.length >= 1 && p.hallCode.length <= 64;
        expect(mine !== undefined, text).toBe(placed);
        outcomes[placed ? 'placed' : 'unplaced'] += 1;
        if (mine) {
          expect(mine.staffId).toBe(view.desk?.staffId ?? null);
          expect(mine.invitation).toEqual(view.desk?.invitation ?? null);
          expect(mine.paused).toBe(view.desk?.paused ?? null);
          expect(mine.alarms.map((a) => a.code)).toEqual(view.alarms ?? []);
        }
        await db.query('DELETE FROM terminals WHERE terminal_id = $1', [id]);
      }),
      { seed: SEED, numRuns: 150 },
    );
    // Both sides of the rule were tried.
    expect(outcomes.placed).toBeGreaterThan(10);
    expect(outcomes.unplaced).toBeGreaterThan(10);
  }, 120_000);
});
