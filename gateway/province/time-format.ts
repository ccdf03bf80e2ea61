import { z } from 'zod';

/*
 * Times as provincial interfaces write them: China Standard Time (UTC+8, no daylight saving since
 * 1991), so a fixed offset is exact and needs no time zone database. The envelope's `time` and the
 * bodies' `serviceTime`/`assessTime` each take one of these formats, per profile.
 */

export const TIME_FORMATS = ['yyyyMMddHHmmss', 'yyyy-MM-dd HH:mm:ss', 'epochMillis'] as const;
export const timeFormatSchema = z.enum(TIME_FORMATS);
export type TimeFormat = z.infer<typeof timeFormatSchema>;

const CST_OFFSET_MS = 8 * 3600_000;

/** `at` written in `format`, China Standard Time. */
export function formatProvinceTime(at: Date, format: TimeFormat): string {
  const ms = at.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('formatProvinceTime: invalid date');
  if (format === 'epochMillis') return String(ms);
  const t = new Date(ms + CST_OFFSET_MS);
  const two = (n: number) => String(n).padStart(2, '0');
  const date = [String(t.getUTCFullYear()).padStart(4, '0'), two(t.getUTCMonth() + 1), two(t.getUTCDate())];
  const time = [two(t.getUTCHours()), two(t.getUTCMinutes()), two(t.getUTCSeconds())];
  return format === 'yyyyMMddHHmmss' ? date.join('') + time.join('') : `${date.join('-')} ${time.join(':')}`;
}

/** The instant a province time string names, or undefined if it is not one in `format` (the emulator checks the window with it). */
export function parseProvinceTime(text: string, format: TimeFormat): Date | undefined {
  if (format === 'epochMillis') {
    if (!/^\d{1,15}$/.test(text)) return undefined;
    return new Date(Number(text));
  }
  const m = format === 'yyyyMMddHHmmss' ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text) : /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s) - CST_OFFSET_MS;
  const back = new Date(ms);
  // Date.UTC rolls 2026-02-30 over into March: such a text names no instant.
  return formatProvinceTime(back, format) === text ? back : undefined;
}
