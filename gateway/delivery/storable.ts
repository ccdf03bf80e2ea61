/**
 * What the province says is kept in `deliveries` (code, message, its answer) and shown to
 * operators; it is the far side's text, so it is made storable first: PostgreSQL refuses NUL in
 * text and jsonb and lone UTF-16 surrogates in jsonb, and a hostile answer must not fill the table.
 */

const MAX_TEXT = 1000;
const MAX_DEPTH = 6;
const MAX_ITEMS = 50;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** One line of text: NUL and other control characters as spaces, well-formed, at most `max` characters. */
export function storableText(value: unknown, max = MAX_TEXT): string {
  const text = typeof value === 'string' ? value : value === undefined ? '' : safeString(value);
  // Cut first: a cut through a surrogate pair leaves a lone half, which the next line mends.
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  // eslint-disable-next-line no-control-regex
  return cut.replace(LONE_SURROGATE, '\ufffd').replace(/[\u0000-\u001f\u007f]/g, ' ');
}

/** A JSON value for a jsonb column: strings made storable, depth and breadth bounded, what JSON cannot hold dropped. */
export function storableJson(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') return storableText(value);
  if (depth >= MAX_DEPTH) return '…';
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => storableJson(v, depth + 1));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const key of Object.keys(value)) {
      if (n++ >= MAX_ITEMS) break;
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') continue;
      out[storableText(key, 100)] = storableJson(v, depth + 1);
    }
    return out;
  }
  return null;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '(unprintable)';
  }
}
