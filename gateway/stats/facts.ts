import { RECORD_MISUSE_FLAGS } from '../../protocol/misuse-flags.js';
import { scopeCondition, type Scope } from '../accounts/scope.js';
import { MAX_PERIOD_DAYS, type Period } from './period.js';

/**
 * What every figure, the misuse list and the exports count: one row per counted invitation (see
 * docs/statistics.md). An invitation record counts unless it is a test or another record took its
 * place; a first rating made later on the receipt page (assess_number 1) is its rating when the
 * counter had none; its misuse flags are the record's own, many_cancels and window_sign.
 */
export interface FactsQuery {
  scope: Scope;
  period: Period;
  timeZone: string;
  /** A staff member's cancels in one local day from which each of that day's cancels is flagged many_cancels. */
  cancelsPerDay: number;
}

/** Refuses (RangeError) a query no caller should make: an empty or overlong period, a zone Intl does not know, a count below 1. */
export function checkFactsQuery(q: FactsQuery): void {
  const span = q.period.to.getTime() - q.period.from.getTime();
  if (!(span > 0) || span > (MAX_PERIOD_DAYS + 1) * 86_400_000) throw new RangeError(`a period of 1 to ${MAX_PERIOD_DAYS} days, not ${String(q.period.from)} … ${String(q.period.to)}`);
  if (!Number.isInteger(q.cancelsPerDay) || q.cancelsPerDay < 1) throw new RangeError(`cancelsPerDay: a positive whole number, not ${q.cancelsPerDay}`);
  new Intl.DateTimeFormat('en', { timeZone: q.timeZone });
}

/** Appends `value` to `params`, answering its placeholder. */
export function param(params: unknown[], value: unknown): string {
  params.push(value);
  return `$${params.length}`;
}

/**
 * A WITH clause (without the word WITH) ending in `facts`: id, area_code, hall_code, window_no,
 * staff_id, occurred_at, day (local YYYY-MM-DD), record, counter_outcome, outcome and grade (as
 * counted), later_id, later_via, later_at, later_reasons (the later rating that counts, if any),
 * flags (text[]: misuse flag codes), flagged (any: cheaper to read than the array). Every table
 * read is kept to the scope.
 */
export function factsSql(q: FactsQuery, params: unknown[]): string {
  const from = param(params, q.period.from);
  const to = param(params, q.period.to);
  const tz = param(params, q.timeZone);
  const invScope = scopeCondition(q.scope, { area: 'r.area_code', hall: 'r.hall_code' }, params);
  const cancelScope = scopeCondition(q.scope, { area: 'c.area_code', hall: 'c.hall_code' }, params);
  const perDay = param(params, q.cancelsPerDay);
  // One CASE per flag, not a subquery over the array: cheap to evaluate wherever the figures read it.
  const recordFlags = RECORD_MISUSE_FLAGS.map((flag) => `CASE WHEN r.record->'flags' ? ${param(params, flag)} THEN '${flag}' END`);
  const counted = (t: string) => `${t}.kind = 'invitation' AND NOT ${t}.test AND ${t}.superseded_by IS NULL`;
  return `
many_cancels AS (
  -- Whole local days: a day the period cuts still counts all its cancels (a zone is at most 26 h off a UTC day).
  SELECT c.area_code, c.hall_code, c.staff_id, (c.occurred_at AT TIME ZONE ${tz})::date AS day
    FROM records c
   WHERE ${counted('c')} AND c.outcome = 'cancelled'
     AND c.occurred_at >= ${from}::timestamptz - interval '26 hours' AND c.occurred_at < ${to}::timestamptz + interval '26 hours'
     AND ${cancelScope}
   GROUP BY 1, 2, 3, 4
  HAVING count(*) >= ${perDay}
), facts AS (
  SELECT r.id, r.area_code, r.hall_code, r.window_no, r.staff_id, r.occurred_at, r.record,
         to_char(r.occurred_at AT TIME ZONE ${tz}, 'YYYY-MM-DD') AS day,
         r.outcome AS counter_outcome,
         CASE WHEN l.id IS NULL THEN r.outcome ELSE 'rated' END AS outcome,
         CASE WHEN r.outcome = 'rated' THEN r.grade ELSE l.grade END AS grade,
         l.id AS later_id, l.via AS later_via, l.rated_at AS later_at, l.reasons AS later_reasons,
         array_remove(ARRAY[${recordFlags.join(', ')},
                            CASE WHEN m.day IS NOT NULL THEN 'many_cancels' END,
                            CASE WHEN l.via = 'window_sign' THEN 'window_sign' END], NULL) AS flags,
         (COALESCE(r.record->'flags' ?| ${param(params, [...RECORD_MISUSE_FLAGS])}::text[], false) OR m.day IS NOT NULL OR l.via IS NOT DISTINCT FROM 'window_sign') AS flagged
    FROM records r
    -- The first rating made later, looked up only when the counter had none. The receipt may name the
    -- record another took the place of (supersedes): either id leads to it.
    LEFT JOIN LATERAL (
      SELECT l.id, l.grade, l.reasons, l.via, l.rated_at FROM later_ratings l
       WHERE r.outcome <> 'rated' AND l.assess_number = 1 AND l.invitation_id IN (r.id::text, r.supersedes::text)
       ORDER BY l.rated_at, l.id LIMIT 1) l ON true
    LEFT JOIN many_cancels m ON r.outcome = 'cancelled' AND m.area_code = r.area_code AND m.hall_code = r.hall_code
                            AND m.staff_id = r.staff_id AND m.day = (r.occurred_at AT TIME ZONE ${tz})::date
   WHERE ${counted('r')} AND r.occurred_at >= ${from} AND r.occurred_at < ${to} AND ${invScope}
)`;
}
