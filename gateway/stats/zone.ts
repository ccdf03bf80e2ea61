/**
 * Calendar days in a configured time zone (gateway.yaml timeZone), with Intl only: a hall's day
 * and month run from its local midnight, which is not UTC's.
 */
const DAY_MS = 86_400_000;
const STEP_MS = 15 * 60_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError for a zone Intl does not know: the config's schema has refused it already.
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall clock in `timeZone` at `at`, as the UTC instant with the same fields (to subtract). */
function wallClock(at: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(at)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

/** The local date of `at` in `timeZone`: YYYY-MM-DD. */
export function localDay(at: Date | number, timeZone: string): string {
  return new Date(wallClock(Math.floor(+at / 1000) * 1000, timeZone)).toISOString().slice(0, 10);
}

/** The local date and time of `at` in `timeZone`: YYYY-MM-DD HH:mm:ss (how exports show times). */
export function localDateTime(at: Date, timeZone: string): string {
  return new Date(wallClock(Math.floor(+at / 1000) * 1000, timeZone)).toISOString().slice(0, 19).replace('T', ' ');
}

/** `day` (YYYY-MM-DD) plus `n` calendar days. */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The first instant of the local day `day` (YYYY-MM-DD) in `timeZone`: its midnight, or, where
 * the clocks jump over midnight, the moment they land.
 */
export function dayStart(day: string, timeZone: string): Date {
  const wall = Date.parse(`${day}T00:00:00Z`);
  let t = wall - (wallClock(wall, timeZone) - wall);
  t = wall - (wallClock(t, timeZone) - t);
  // Offsets change on quarter hours: step to the day's first quarter hour if the guess missed it.
  for (let i = 0; i < 16 && localDay(t, timeZone) < day; i++) t += STEP_MS;
  for (let i = 0; i < 16 && localDay(t - STEP_MS, timeZone) === day; i++) t -= STEP_MS;
  return new Date(t);
}

/** The local days from `first` to `last` (inclusive), in order. */
export function daysBetween(first: string, last: string): string[] {
  const days: string[] = [];
  for (let d = first; d <= last; d = addDays(d, 1)) days.push(d);
  return days;
}
