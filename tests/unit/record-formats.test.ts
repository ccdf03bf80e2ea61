import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { gradeCode } from '../../protocol/grades.js';
import { decodeRecord, encodeRecord, RECORD_FORMATS, recordFormatNameSchema, type RecordFormatName } from '../../protocol/record-formats/index.js';
import type { StoredEvent, StoredInvitation } from '../../protocol/records.js';

const envelope = {
  schema: 1 as const,
  terminalId: 'T-330106-A03',
  areaCode: '330106',
  hallCode: 'XH-01',
  windowNo: 'A03',
  flags: [],
  test: false,
  clock: { synced: true, bootId: 'e67f4422deb1c69c', monoMs: 1147 },
};

function rated(): StoredInvitation {
  return {
    ...envelope,
    id: uuidv7(),
    kind: 'invitation',
    staffId: 'S1001',
    services: [{ itemCode: '330106-XK-0012', caseNo: '330106202611220001' }],
    mode: 'single',
    proxy: false,
    invitedAt: '2026-11-22T14:06:14.086Z',
    closedAt: '2026-11-22T14:06:14.103Z',
    outcome: 'rated',
    rating: { grade: 'dissatisfied', reasons: [], reasonCatalogVersion: null, pressedAt: '2026-11-22T14:06:14.096Z', latencyMs: 10 },
    channel: 'counter',
  };
}

function stray(): StoredEvent {
  return { ...envelope, id: uuidv7(), kind: 'event', staffId: null, type: 'stray_press', at: '2026-11-22T14:06:14.086Z', detail: { grade: 'satisfied' } };
}

const names = Object.keys(RECORD_FORMATS) as RecordFormatName[];

describe('record formats', () => {
  it.each(names)('%s: what it encodes, the decoders read back, with the sequence number and the grade code added', (name) => {
    for (const record of [rated(), stray()]) {
      const decoded = decodeRecord(encodeRecord(name, record, 7, 'gbt-39046'));
      expect(decoded).toMatchObject({ kind: 'record', id: record.id, record: { id: record.id, seq: 7, schema: RECORD_FORMATS[name].schema } });
    }
    const decoded = decodeRecord(encodeRecord(name, rated(), 1, 'gbt-39046'));
    expect(decoded.kind === 'record' && decoded.record.kind === 'invitation' && decoded.record.rating?.gradeCode).toBe(gradeCode('dissatisfied', 'gbt-39046'));
  });

  it('gives each format its own schema number (a receiver picks the decoder by it)', () => {
    const schemas = Object.values(RECORD_FORMATS).map((f) => f.schema);
    expect(new Set(schemas).size).toBe(schemas.length);
  });

  it('is chosen by name in the config, and refuses a name it does not have', () => {
    expect(recordFormatNameSchema.parse('v1')).toBe('v1');
    expect(recordFormatNameSchema.safeParse('v0').success).toBe(false);
  });

  it('rejects an identified but invalid record by id, naming the field', () => {
    const record = JSON.parse(encodeRecord('v1', rated(), 1, 'provincial-5-high')) as Record<string, unknown>;
    const id = record.id as string;
    expect(decodeRecord(JSON.stringify({ ...record, services: [{ itemCode: 'X' }] }))).toEqual({
      kind: 'invalid',
      id,
      reason: 'services.0.caseNo: required (expected string)',
    });
    expect(decodeRecord(JSON.stringify({ ...record, schema: 99 }))).toEqual({ kind: 'invalid', id, reason: 'schema: expected one of 1|2, got 99' });
    const { schema: _dropped, ...unversioned } = record;
    expect(decodeRecord(JSON.stringify(unversioned))).toEqual({ kind: 'invalid', id, reason: 'schema: required (expected one of 1|2)' });
  });

  it('calls a message without JSON or without an id unreadable: nothing can acknowledge it', () => {
    expect(decodeRecord('{not json')).toMatchObject({ kind: 'unreadable', reason: expect.stringMatching(/^not JSON: /) as unknown });
    expect(decodeRecord('{"schema":1}')).toEqual({ kind: 'unreadable', reason: 'no string "id": cannot be acknowledged' });
    expect(decodeRecord('[1]')).toEqual({ kind: 'unreadable', reason: 'no string "id": cannot be acknowledged' });
  });
});
