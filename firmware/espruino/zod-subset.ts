/**
 * The part of zod's API that the serial protocol schemas (protocol/serial-messages.ts, grades.ts)
 * are written with, small enough for the terminal's MCU. build.ts aliases `zod` to this file for
 * the Espruino bundle only: the device checks frames against the very same protocol definitions
 * the bridge checks with real zod, without zod's ~95 KB. tests/unit/zod-subset.test.ts checks, on
 * random and hostile frames, that it accepts, rejects and fills defaults exactly as zod does on
 * those schemas. A protocol change that uses a method not here makes the bundle throw "... is not
 * a function" at load, which the Espruino tests report.
 *
 * Memory first (docs/espruino.md, "Memory"): a schema is a small object of plain data (what it
 * checks), and the code lives once, on the prototype and in `parse`, not as closures in every
 * schema: the protocol's schemas built at load took 6,871 of a Pico's 5,100 variables as
 * closures, 692 as data (measured with process.memory() on Espruino's interpreter).
 *
 * Written for Espruino's interpreter: no Map/Set/Symbol, no Number.isInteger (not in Espruino),
 * and no RegExp syntax it lacks (see `pattern`).
 */

export type PathKey = string | number;

/** Issues as zod reports them (code, path, message); the device only words them (issues-subset.ts). */
export interface Issue {
  code: 'invalid_type' | 'invalid_value' | 'invalid_union' | 'invalid_format' | 'too_small' | 'too_big';
  path: PathKey[];
  message: string;
}

type SafeParse = { success: true; data: unknown } | { success: false; error: { issues: Issue[] } };

type Kind = 'number' | 'string' | 'boolean' | 'array' | 'literal' | 'enum' | 'object' | 'union' | 'nullable' | 'default';

/** zod's int() is a safe integer. */
const MAX_SAFE_INTEGER = 9007199254740991;

/**
 * One schema. Only the fields its kind uses are set (an unset field costs no variable on Espruino).
 * Bounds from repeated calls tighten (`min(1).min(0)` is low 1), as zod's checks all apply.
 * `declare`: a field initialised as a class field would be set, to undefined, on every schema.
 */
export class Schema {
  /** number: a safe integer (int()). */
  declare whole?: true;
  /** number: value ≥ low; string, array: length ≥ low (min()). */
  declare low?: number;
  /** number: value ≤ high; string, array: length ≤ high (max()). */
  declare high?: number;
  /** number: value > above (positive()). */
  declare above?: number;
  /** string: regex() checks, and what each failure says. */
  declare tests?: ((s: string) => boolean)[];
  declare messages?: string[];
  /** array: each item; nullable, default: the schema wrapped. */
  declare item?: Schema;
  /** enum: the values allowed; literal: the value. */
  declare values?: readonly unknown[];
  declare value?: unknown;
  /** object: its fields. */
  declare shape?: Record<string, Schema>;
  /** union: the discriminator field and the object schemas it chooses from. */
  declare key?: string;
  declare options?: Schema[];
  /** default: the value given for undefined. */
  declare fallback?: unknown;

  /** Held by the prototype of each kind (see `make`), not by every schema. */
  declare readonly kind: Kind;

  safeParse(input: unknown): SafeParse {
    const issues: Issue[] = [];
    const data = parse(this, input, [], issues);
    return issues.length > 0 ? { success: false, error: { issues } } : { success: true, data };
  }

  nullable(): Schema {
    return wrap('nullable', this);
  }

  /** As in zod, a default short-circuits (it is not itself validated), and an array default is copied. */
  default(value: unknown): Schema {
    const schema = wrap('default', this);
    schema.fallback = value;
    return schema;
  }

  int(): Schema {
    return this.with({ whole: true });
  }

  min(limit: number): Schema {
    return this.with({ low: this.low === undefined ? limit : Math.max(this.low, limit) });
  }

  max(limit: number): Schema {
    return this.with({ high: this.high === undefined ? limit : Math.min(this.high, limit) });
  }

  positive(): Schema {
    return this.with({ above: this.above === undefined ? 0 : Math.max(this.above, 0) });
  }

  length(n: number): Schema {
    return this.min(n).max(n);
  }

  regex(re: RegExp, message?: string): Schema {
    return this.with({
      tests: (this.tests ?? []).concat([pattern(re)]),
      messages: (this.messages ?? []).concat([message ?? `Invalid string: must match pattern ${String(re)}`]),
    });
  }

  /** A copy of this schema with `changes` (schemas are immutable, as zod's are). */
  private with(changes: Partial<Schema>): Schema {
    const copy = make(this.kind) as unknown as Record<string, unknown>;
    const from = [this as unknown as Record<string, unknown>, changes as Record<string, unknown>];
    // Object.keys, not for…in: on Espruino for…in also walks the prototype's methods.
    from.forEach((source) => Object.keys(source).forEach((field) => (copy[field] = source[field])));
    return copy as unknown as Schema;
  }
}

/** One prototype per kind, made on first use, so that a schema's kind costs it nothing (2 variables each on Espruino). */
const prototypes: Partial<Record<Kind, Schema>> = {};

function make(kind: Kind): Schema {
  let prototype = prototypes[kind];
  if (!prototype) {
    prototype = Object.create(Schema.prototype) as Schema;
    (prototype as { kind: Kind }).kind = kind;
    prototypes[kind] = prototype;
  }
  return Object.create(prototype) as Schema;
}

function wrap(kind: 'nullable' | 'default', item: Schema): Schema {
  const schema = make(kind);
  schema.item = item;
  return schema;
}

function typeName(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  if (typeof input === 'number' && isNaN(input)) return 'NaN';
  return typeof input;
}

function isPlainObject(input: unknown): input is Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input);
}

/** Whether `input` has the JavaScript type `kind` checks first (a finite number for 'number'). */
function hasType(kind: Kind, input: unknown): boolean {
  if (kind === 'number') return typeof input === 'number' && isFinite(input);
  if (kind === 'array') return Array.isArray(input);
  if (kind === 'object' || kind === 'union') return isPlainObject(input);
  return typeof input === kind;
}

/** Parses `input` at `path` against `schema`, pushing what is wrong to `issues`; returns the output value. */
function parse(schema: Schema, input: unknown, path: PathKey[], issues: Issue[]): unknown {
  const kind = schema.kind;
  const item = schema.item as Schema;
  if (kind === 'nullable') return input === null ? null : parse(item, input, path, issues);
  if (kind === 'default') return input !== undefined ? parse(item, input, path, issues) : Array.isArray(schema.fallback) ? schema.fallback.slice() : schema.fallback;
  if (kind === 'enum' || kind === 'literal') {
    const values = schema.values ?? [schema.value];
    if (values.indexOf(input) < 0) issue(issues, 'invalid_value', path, `Invalid input: expected ${values.map((v) => JSON.stringify(v)).join('|')}`);
    return input;
  }
  if (!hasType(kind, input)) {
    const expected = kind === 'union' ? 'object' : kind;
    issue(issues, 'invalid_type', path, `Invalid input: expected ${expected}, received ${typeName(input)}`);
    return input;
  }
  if (kind === 'object') return parseObject(schema.shape as Record<string, Schema>, input as Record<string, unknown>, path, issues);
  if (kind === 'union') return parseUnion(schema, input as Record<string, unknown>, path, issues);
  if (kind === 'boolean') return input;
  if (kind === 'number' && schema.whole) {
    const n = input as number;
    // As in zod, a number that is no integer is not also measured; one out of the safe range is.
    if (Math.floor(n) !== n) {
      issue(issues, 'invalid_type', path, 'Invalid input: expected int, received number');
      return input;
    }
    if (n < -MAX_SAFE_INTEGER) issue(issues, 'too_small', path, `Too small: expected int to be >=${-MAX_SAFE_INTEGER}`);
    if (n > MAX_SAFE_INTEGER) issue(issues, 'too_big', path, `Too big: expected int to be <=${MAX_SAFE_INTEGER}`);
  }
  if (kind === 'number' && schema.above !== undefined && !((input as number) > schema.above)) {
    issue(issues, 'too_small', path, `Too small: expected number to be >${schema.above}`);
  }
  const size = kind === 'number' ? (input as number) : (input as string | unknown[]).length;
  const what = kind === 'number' ? 'number to be' : kind === 'string' ? 'string to have' : 'array to have';
  const unit = kind === 'number' ? '' : kind === 'string' ? ' characters' : ' items';
  if (schema.low !== undefined && !(size >= schema.low)) issue(issues, 'too_small', path, `Too small: expected ${what} >=${schema.low}${unit}`);
  if (schema.high !== undefined && !(size <= schema.high)) issue(issues, 'too_big', path, `Too big: expected ${what} <=${schema.high}${unit}`);
  (schema.tests ?? []).forEach((test, i) => {
    if (!test(input as string)) issue(issues, 'invalid_format', path, (schema.messages as string[])[i] as string);
  });
  if (kind === 'array') return (input as unknown[]).map((value, i) => parse(item, value, path.concat([i]), issues));
  return input;
}

function issue(issues: Issue[], code: Issue['code'], path: PathKey[], message: string): void {
  issues.push({ code, path, message });
}

/** Like zod's default object: unknown keys are dropped, every field is checked. */
function parseObject(shape: Record<string, Schema>, input: Record<string, unknown>, path: PathKey[], issues: Issue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  Object.keys(shape).forEach((key) => {
    const value = parse(shape[key] as Schema, input[key], path.concat([key]), issues);
    if (value !== undefined || key in input) out[key] = value;
  });
  return out;
}

/** The option whose literal discriminator field takes the input's; no match is one issue at that field. */
function parseUnion(union: Schema, input: Record<string, unknown>, path: PathKey[], issues: Issue[]): unknown {
  const key = union.key as string;
  const options = union.options as Schema[];
  for (let i = 0; i < options.length; i++) {
    const option = options[i] as Schema;
    const tag = (option.shape as Record<string, Schema>)[key];
    if (tag && tag.safeParse(input[key]).success) return parse(option, input, path, issues);
  }
  issue(issues, 'invalid_union', path.concat([key]), 'Invalid input');
  return input;
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

function oneOf(values: readonly unknown[]): Schema {
  const schema = make('enum');
  schema.values = values;
  return schema;
}

function object(shape: Record<string, Schema>): Schema {
  const schema = make('object');
  schema.shape = shape;
  return schema;
}

function discriminatedUnion(key: string, options: Schema[]): Schema {
  const schema = make('union');
  schema.key = key;
  schema.options = options;
  return schema;
}

export const z = {
  object,
  discriminatedUnion,
  literal: (value: unknown): Schema => {
    const schema = make('literal');
    schema.value = value;
    return schema;
  },
  enum: oneOf,
  number: (): Schema => make('number'),
  boolean: (): Schema => make('boolean'),
  array: (item: Schema): Schema => {
    const schema = make('array');
    schema.item = item;
    return schema;
  },
  string: (): Schema => make('string'),
};
