import type { z } from 'zod';

/**
 * Turning zod issues into messages that say what was wrong and where, for every boundary
 * (config file, HTTP body, serial frame, MQTT message).
 */
const MAX_ISSUES = 5;

/** A missing field reads "required (expected …)" instead of zod's "expected string, received undefined". */
export const requiredFieldMessages: z.core.$ZodErrorMap = (issue) => {
  if (issue.input !== undefined) return undefined;
  if (issue.code === 'invalid_type') return `required (expected ${issue.expected})`;
  if (issue.code === 'invalid_value') return `required (expected ${issue.values.map((v) => JSON.stringify(v)).join('|')})`;
  return undefined;
};

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

/** Every failing field path and its problem, one line each: `services.0.caseNo: required (expected string)`. */
export function issueLines(issues: readonly Issue[], max = MAX_ISSUES): string[] {
  const flat = flattenIssues(issues, []);
  const shown = flat.slice(0, max).map(({ path, message }) => `${formatPath(path)}: ${message}`);
  if (flat.length > max) shown.push(`and ${flat.length - max} more`);
  return shown;
}

/** The same, on one line: `services.0.caseNo: required (expected string); …`. */
export function describeIssues(issues: readonly Issue[], max = MAX_ISSUES): string {
  return issueLines(issues, max).join('; ');
}

function flattenIssues(issues: readonly Issue[], prefix: readonly PathKey[]): { path: PathKey[]; message: string }[] {
  const out: { path: PathKey[]; message: string }[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      out.push(...explainUnion(issue.errors, path));
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

/**
 * A union of record kinds fails in every branch. If the discriminator (a literal that differs per
 * branch, like `kind`) matched no branch, say that alone; otherwise explain the branch it matched.
 */
function explainUnion(branches: readonly (readonly Issue[])[], path: readonly PathKey[]): { path: PathKey[]; message: string }[] {
  const literalMisses = (branch: readonly Issue[]) =>
    branch.filter((i): i is Extract<Issue, { code: 'invalid_value' }> => i.code === 'invalid_value' && i.values.length === 1);
  const first = branches[0] ?? [];
  for (const candidate of literalMisses(first)) {
    const key = JSON.stringify(candidate.path.map(String));
    const atKey = branches.map((b) => literalMisses(b).find((i) => JSON.stringify(i.path.map(String)) === key));
    const values = atKey.map((i) => i?.values[0]);
    const distinct = new Set(values.map((v) => JSON.stringify(v)));
    if (atKey.every((i) => i !== undefined) && distinct.size === branches.length) {
      const missing = candidate.message.startsWith('required');
      return [{ path: [...path, ...candidate.path], message: `${missing ? 'required, ' : ''}expected one of ${[...distinct].join('|')}` }];
    }
  }
  const ranked = [...branches].sort((a, b) => literalMisses(a).length - literalMisses(b).length || a.length - b.length);
  return flattenIssues(ranked[0] ?? [], path);
}

function formatPath(path: readonly PathKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

export type Explained<T> = { ok: true; data: T } | { ok: false; problems: string[]; fields: string[] };

/** Parses `value`; on failure, says per problem which field and what was expected. */
export function explain<T extends z.ZodType>(schema: T, value: unknown): Explained<z.output<T>> {
  const result = schema.safeParse(value, { error: requiredFieldMessages });
  if (result.success) return { ok: true, data: result.data };
  return {
    ok: false,
    problems: issueLines(result.error.issues),
    fields: result.error.issues.map((i) => formatPath(i.path)),
  };
}
