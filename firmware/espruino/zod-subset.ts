/**
 * The part of zod's API that the serial protocol schemas (protocol/serial-messages.ts, grades.ts)
 * are written with, small enough for the terminal's MCU. build.ts aliases `zod` to this file for
 * the Espruino bundle only: the device checks frames against the very same protocol definitions
 * the bridge checks with real zod, without zod's ~95 KB. The Espruino test checks that it accepts,
 * rejects and fills defaults as zod does on those schemas. A protocol change that uses a method not
 * here makes the bundle throw "... is not a function" at load, which that test reports.
 *
 * Written for Espruino's interpreter: no Map/Set/Symbol, no Number.isInteger (not in Espruino),
 * and no RegExp syntax it lacks (see `pattern`).
 */

export type PathKey = string | number;

/** Issues as zod reports them (code, path, message), for protocol/issues.ts to explain. */
export interface Issue {
  code: 'invalid_type' | 'invalid_value' | 'invalid_union' | 'invalid_format' | 'too_small' | 'too_big';
  path: PathKey[];
  message: string;
  input?: unknown;
  expected?: string;
  values?: unknown[];
  errors?: Issue[][];
}

type SafeParse = { success: true; data: unknown } | { success: false; error: { issues: Issue[] } };

/** Parses `input` at `path`, pushing what is wrong to `issues`; returns the output value. */
type Parser = (input: unknown, path: PathKey[], issues: Issue[]) => unknown;

export interface Schema {
  _parse: Parser;
  safeParse(input: unknown): SafeParse;
  nullable(): Schema;
  default(value: unknown): Schema;
}

function schema(parse: Parser): Schema {
  return {
    _parse: parse,
    safeParse(input) {
      const issues: Issue[] = [];
      const data = parse(input, [], issues);
      return issues.length > 0 ? { success: false, error: { issues } } : { success: true, data };
    },
    nullable: () => schema((input, path, issues) => (input === null ? null : parse(input, path, issues))),
    // As in zod, a default short-circuits (it is not itself validated), and an array default is copied.
    default: (value) => schema((input, path, issues) => (input === undefined ? (Array.isArray(value) ? value.slice() : value) : parse(input, path, issues))),
  };
}

function typeName(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  if (typeof input === 'number' && isNaN(input)) return 'NaN';
  return typeof input;
}

function invalidType(expected: string, input: unknown, path: PathKey[]): Issue {
  return { code: 'invalid_type', expected, input, path, message: `Invalid input: expected ${expected}, received ${typeName(input)}` };
}

/** A refinement of a number or string: the issue it raises, or undefined when the value passes. */
type Check<T> = (value: T, path: PathKey[]) => Issue | undefined;

function checked<T>(expected: string, is: (input: unknown) => input is T, checks: Check<T>[]): Parser {
  return (input, path, issues) => {
    if (!is(input)) {
      issues.push(invalidType(expected, input, path));
      return input;
    }
    checks.forEach((check) => {
      const issue = check(input, path);
      if (issue) issues.push(issue);
    });
    return input;
  };
}

const isNumber = (input: unknown): input is number => typeof input === 'number' && isFinite(input);
const isString = (input: unknown): input is string => typeof input === 'string';
/** zod's int() is a safe integer. */
const MAX_SAFE_INTEGER = 9007199254740991;

function bound<T>(measure: (value: T) => number, origin: string, limit: number, min: boolean, exclusive = false): Check<T> {
  return (value, path) => {
    const size = measure(value);
    const ok = min ? (exclusive ? size > limit : size >= limit) : size <= limit;
    if (ok) return undefined;
    const relation = min ? (exclusive ? '>' : '>=') : '<=';
    return { code: min ? 'too_small' : 'too_big', input: value, path, message: `Too ${min ? 'small' : 'big'}: expected ${origin} to be ${relation}${limit}` };
  };
}

export interface NumberSchema extends Schema {
  int(): NumberSchema;
  min(limit: number): NumberSchema;
  max(limit: number): NumberSchema;
  positive(): NumberSchema;
}

function numberSchema(checks: Check<number>[]): NumberSchema {
  const value = (n: number): number => n;
  const and = (check: Check<number>): NumberSchema => numberSchema(checks.concat([check]));
  return {
    ...schema(checked('number', isNumber, checks)),
    int: () =>
      and((n, path) =>
        Math.floor(n) === n && Math.abs(n) <= MAX_SAFE_INTEGER ? undefined : { code: 'invalid_type', expected: 'int', input: n, path, message: 'Invalid input: expected int, received number' },
      ),
    min: (limit) => and(bound(value, 'number', limit, true)),
    max: (limit) => and(bound(value, 'number', limit, false)),
    positive: () => and(bound(value, 'number', 0, true, true)),
  };
}

export interface StringSchema extends Schema {
  min(length: number): StringSchema;
  max(length: number): StringSchema;
  regex(re: RegExp, message?: string): StringSchema;
}

function stringSchema(checks: Check<string>[]): StringSchema {
  const length = (s: string): number => s.length;
  const and = (check: Check<string>): StringSchema => stringSchema(checks.concat([check]));
  return {
    ...schema(checked('string', isString, checks)),
    min: (limit) => and(bound(length, 'string', limit, true)),
    max: (limit) => and(bound(length, 'string', limit, false)),
    regex: (re, message) => {
      const test = pattern(re);
      return and((s, path) => (test(s) ? undefined : { code: 'invalid_format', input: s, path, message: message ?? `Invalid string: must match pattern ${String(re)}` }));
    },
  };
}

/**
 * A RegExp test Espruino can run. Espruino's RegExp has no {m,n} quantifier
 * (https://github.com/espruino/Espruino/issues/1257), so the one form the protocol uses, a whole
 * string of one atom with bounds (`^[0-9a-f]{8,32}$`), is tested as a length in m..n plus `^atom*$`.
 * Any other use of `{` throws when the schema is built, so CI sees it before a board does.
 */
export function pattern(re: RegExp): (s: string) => boolean {
  const source = re.source;
  const open = source.indexOf('{');
  if (open < 0) return (s) => re.test(s);
  const close = source.indexOf('}');
  const atom = source.slice(1, open);
  const bounds = source.slice(open + 1, close).split(',');
  const min = Number(bounds[0]);
  const max = bounds.length === 1 ? min : bounds[1] === '' ? Infinity : Number(bounds[1]);
  // One character, one escape, or one class (the check itself must not need what it works around).
  const singleAtom = atom.length === 1 || (atom.length === 2 && atom[0] === '\\') || (atom[0] === '[' && atom.indexOf(']') === atom.length - 1);
  if (source[0] !== '^' || source.slice(close) !== '}$' || !singleAtom || !(min >= 0) || !(max >= min)) {
    throw new Error(`pattern ${String(re)}: Espruino's RegExp has no {m,n}, and only ^atom{m,n}$ is rewritten`);
  }
  const each = new RegExp(`^${atom}*$`, re.flags);
  return (s) => s.length >= min && s.length <= max && each.test(s);
}

export interface ArraySchema extends Schema {
  length(n: number): ArraySchema;
  max(n: number): ArraySchema;
}

function arraySchema(item: Schema, checks: Check<unknown[]>[]): ArraySchema {
  const size = (a: unknown[]): number => a.length;
  const elements = checked('array', Array.isArray as (input: unknown) => input is unknown[], checks);
  return {
    ...schema((input, path, issues) => {
      const checkedInput = elements(input, path, issues);
      return Array.isArray(checkedInput) ? checkedInput.map((value, i) => item._parse(value, path.concat([i]), issues)) : checkedInput;
    }),
    length: (n) => arraySchema(item, checks.concat([bound(size, 'array', n, true), bound(size, 'array', n, false)])),
    max: (n) => arraySchema(item, checks.concat([bound(size, 'array', n, false)])),
  };
}

function literal(value: unknown): Schema {
  return oneOf([value]);
}

function oneOf(values: readonly unknown[]): Schema {
  return schema((input, path, issues) => {
    if (values.indexOf(input) < 0) {
      const expected = values.map((v) => JSON.stringify(v)).join('|');
      issues.push({ code: 'invalid_value', values: values.slice(), input, path, message: `Invalid input: expected ${expected}` });
    }
    return input;
  });
}

function isPlainObject(input: unknown): input is Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input);
}

export interface ObjectSchema extends Schema {
  shape: Record<string, Schema>;
}

/** Like zod's default object: unknown keys are dropped, every field is checked. */
function object(shape: Record<string, Schema>): ObjectSchema {
  const keys = Object.keys(shape);
  return {
    ...schema((input, path, issues) => {
      if (!isPlainObject(input)) {
        issues.push(invalidType('object', input, path));
        return input;
      }
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        const value = (shape[key] as Schema)._parse(input[key], path.concat([key]), issues);
        if (value !== undefined || key in input) out[key] = value;
      }
      return out;
    }),
    shape,
  };
}

/** The option whose literal `discriminator` field equals the input's; no match is one issue at that field. */
function discriminatedUnion(discriminator: string, options: ObjectSchema[]): Schema {
  return schema((input, path, issues) => {
    if (!isPlainObject(input)) {
      issues.push(invalidType('object', input, path));
      return input;
    }
    for (const option of options) {
      const tag = option.shape[discriminator];
      if (tag && tag.safeParse(input[discriminator]).success) return option._parse(input, path, issues);
    }
    issues.push({ code: 'invalid_union', errors: [], input, path: path.concat([discriminator]), message: 'Invalid input' });
    return input;
  });
}

export const z = {
  object,
  discriminatedUnion,
  literal,
  enum: oneOf,
  number: (): NumberSchema => numberSchema([]),
  boolean: (): Schema => schema(checked('boolean', (input): input is boolean => typeof input === 'boolean', [])),
  array: (item: Schema): ArraySchema => arraySchema(item, []),
  string: (): StringSchema => stringSchema([]),
};
