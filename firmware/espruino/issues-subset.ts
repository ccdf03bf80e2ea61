/**
 * protocol/issues.ts's explain() for the Espruino bundle (swapped in by build.ts, as zod-subset.ts
 * is for zod): on the device it only words the problem of a `nak`, so each issue is said as
 * `path: message` without the union analysis the bridge's messages get. Saves about 1 KB.
 */
import type { z } from 'zod';

type Issue = { path: PropertyKey[]; message: string };
export type Explained<T> = { ok: true; data: T } | { ok: false; problems: string[]; fields: string[] };

export function explain<T extends z.ZodType>(schema: T, value: unknown): Explained<z.output<T>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, data: result.data };
  const issues = result.error.issues as unknown as Issue[];
  const fields = issues.map((issue) => (issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.')));
  return { ok: false, problems: issues.map((issue, i) => `${fields[i] ?? ''}: ${issue.message}`), fields };
}
