/*
 * What every diagnose probe returns: what it found and, for a problem, the likely fix. The probes
 * live beside their parts (terminal/probe.ts, printer/probe.ts, uplink/probe.ts, …) and are used by
 * doctor and provision alike. None of them throws: a probe that cannot tell says so.
 */

export type CheckLevel = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  level: CheckLevel;
  /** What was checked, e.g. "terminal port". */
  name: string;
  /** What was found. */
  message: string;
  /** For a problem: what to do about it (may be several lines). */
  fix?: string[];
}

const SYMBOL: Record<CheckLevel, string> = { ok: '✔', warn: '!', fail: '✘' };

export const ok = (name: string, message: string): CheckResult => ({ level: 'ok', name, message });
export const warn = (name: string, message: string, fix: string[] = []): CheckResult => ({ level: 'warn', name, message, fix });
export const fail = (name: string, message: string, fix: string[] = []): CheckResult => ({ level: 'fail', name, message, fix });

export function formatResult(result: CheckResult): string {
  const lines = [`${SYMBOL[result.level]} ${result.name}: ${result.message}`];
  for (const fix of result.fix ?? []) lines.push(`    fix: ${fix}`);
  return lines.join('\n');
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${bytes} B`;
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}
