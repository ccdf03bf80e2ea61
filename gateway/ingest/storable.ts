import type { UpstreamRecord } from '../../protocol/records.js';
import { MAX_STORED_SEQ } from '../store/chain-store.js';
import { isStorableText } from './incoming.js';

/**
 * Why a valid record cannot be stored as it is (undefined: it can). The schema lets through a
 * few things PostgreSQL refuses (a NUL or a lone surrogate in a string, the year 0000, a seq past
 * its integer): such a record is refused with this reason rather than failing its whole batch.
 */
export function unstorableReason(record: UpstreamRecord, json = JSON.stringify(record)): string | undefined {
  if (record.seq > MAX_STORED_SEQ) return `seq: ${record.seq} is beyond ${MAX_STORED_SEQ}, the most the gateway stores`;
  // JSON.stringify writes a NUL or a lone surrogate as an escape after an even run of backslashes: look for the field only then.
  const text = ESCAPED_UNSTORABLE.test(json) ? unstorableTextAt(record, []) : undefined;
  if (text !== undefined) return `${text}: holds a NUL character or a lone surrogate, which the database cannot keep`;
  for (const [field, time] of timesOf(record)) {
    if (time.startsWith('0000')) return `${field}: the year 0000 is not a time the database keeps`;
  }
  return undefined;
}

const ESCAPED_UNSTORABLE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/i;

function timesOf(record: UpstreamRecord): [string, string][] {
  if (record.kind === 'event') return [['at', record.at]];
  return [
    ['invitedAt', record.invitedAt],
    ['closedAt', record.closedAt],
    ...(record.rating ? ([['rating.pressedAt', record.rating.pressedAt]] as [string, string][]) : []),
  ];
}

/** The path of the first string (value or key) PostgreSQL cannot keep, if any. */
function unstorableTextAt(value: unknown, path: string[]): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : path.join('.') || '(top level)';
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = unstorableTextAt(item, [...path, String(i)]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (!isStorableText(key)) return [...path, JSON.stringify(key)].join('.');
      const found = unstorableTextAt(item, [...path, key]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
