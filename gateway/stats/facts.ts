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
 * flags (text[]: misuse flag codes). Every table read is kept to the scope.
 */
export function factsSql(q: FactsQuery, params: unknown[]): string {
  const from = param(params, q.period.from);
  const to = param(params, q.period.to);
  const tz = param(params, q.timeZone);
  const invScope = scopeCondition(q.scope, { area: 'r.area_code', hall: 'r.hall_code' }, params);
  const cancelScope = scopeCondition(q.scope, { area: 'c.area_code', hall: 'c.hall_code' }, params);
  const perDay = param(params, q.cancelsPerDay);
  const recordFlags = param(params, [...RECORD_MISUSE_FLAGS]);
  const counted = (t: string) => `${t}.kind = 'invitation' AND NOT ${t}.test AND ${t}.superseded_by IS NULL`;
  return `
inv AS (
  SELECT r.id, r.area_code, r.hall_code, r.window_no, r.staff_id, r.outcome, r.grade, r.occurred_at, r.supersedes, r.record
    FROM records r
   WHERE ${counted('r')} AND r.occurred_at >= ${from} AND r.occurred_at < ${to} AND ${invScope}
), later AS (
  -- The receipt may name the record another took the place of (supersedes): either id leads to it.
  SELECT DISTINCT ON (i.id) i.id AS invitation, l.id, l.grade, l.reasons, l.via, l.rated_at
    FROM inv i JOIN later_ratings l ON l.invitation_id IN (i.id::text, i.supersedes::text)
   WHERE i.outcome <> 'rated' AND l.assess_number = 1
   ORDER BY i.id, l.rated_at, l.id
), many_cancels AS (
  -- Whole local days: a day the period cuts still counts all its cancels (a zone is at most 26 h off a UTC day).
  SELECT c.area_code, c.hall_code, c.staff_id, (c.occurred_at AT TIME ZONE ${tz})::date AS day
    FROM records c
   WHERE ${counted('c')} AND c.outcome = 'cancelled'
     AND c.occurred_at >= ${from}::timestamptz - interval '26 hours' AND c.occurred_at < ${to}::timestamptz + interval '26 hours'
     AND ${cancelScope}
   GROUP BY 1, 2, 3, 4
  HAVING count(*) >= ${perDay}
), facts AS (
  SELECT i.id, i.area_code, i.hall_code, i.window_no, i.staff_id, i.occurred_at, i.record,
         to_char(i.occurred_at AT TIME ZONE ${tz}, 'YYYY-MM-DD') AS day,
         i.outcome AS counter_outcome,
         CASE WHEN l.id IS NULL THEN i.outcome ELSE 'rated' END AS outcome,
         CASE WHEN i.outcome = 'rated' THEN i.grade ELSE l.grade END AS grade,
         l.id AS later_id, l.via AS later_via, l.rated_at AS later_at, l.reasons AS later_reasons,
         ARRAY(SELECT DISTINCT e.f FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(i.record->'flags') = 'array' THEN i.record->'flags' ELSE '[]'::jsonb END) AS e(f)
                WHERE e.f = ANY(${recordFlags}::text[]))
           || CASE WHEN m.day IS NULL THEN ARRAY[]::text[] ELSE ARRAY['many_cancels'] END
           || CASE WHEN l.via = 'window_sign' THEN ARRAY['window_sign'] ELSE ARRAY[]::text[] END AS flags
    FROM inv i
    LEFT JOIN later l ON l.invitation = i.id
    LEFT JOIN many_cancels m ON i.outcome = 'cancelled' AND m.area_code = i.area_code AND m.hall_code = i.hall_code
                            AND m.staff_id = i.staff_id AND m.day = (i.occurred_at AT TIME ZONE ${tz})::date
)`;
}
