/**
 * The one canonical JSON of this project (what a record's seal signs and hashes): object keys
 * sorted by UTF-16 code unit, no whitespace, `undefined` members left out as JSON.stringify does.
 * Two parties that hold the same value get the same bytes, whatever order its keys arrived in.
 * Only JSON values are accepted: a number that JSON cannot carry (NaN, Infinity) or anything that
 * is not plain data is refused rather than written as something else.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${String(value)} is not a JSON number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  if (isPlainObject(value)) {
    // Written in one pass (a receiver writes every record's members twice over): the same text as canonicalMembers joined.
    let text = '{';
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member === undefined) continue;
      text += `${text.length > 1 ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(member)}`;
    }
    return `${text}}`;
  }
  throw new TypeError(`canonical JSON: a ${typeof value} is not JSON data`);
}

/**
 * An object's own members as canonicalJson writes them (`"key":value`), sorted, with their keys:
 * so that the canonical JSON of the object less some members is made without writing it again.
 */
export function canonicalMembers(value: object): [key: string, member: string][] {
  return Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k, `${JSON.stringify(k)}:${canonicalJson(v)}`]);
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === Object.prototype || proto === null;
}
