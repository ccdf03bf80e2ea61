import fc from 'fast-check';
import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { GRADE_CODE_PROFILES, GRADES, type GradeCodeProfileName } from '../../protocol/grades.js';
import { decodeRecord, encodeRecord, RECORD_FORMATS, type RecordFormatName } from '../../protocol/record-formats/index.js';
import { upstreamRecordSchema, type StoredInvitation } from '../../protocol/records.js';
import { compile } from 'zod/v4/core';
import { explain } from '../../protocol/issues.js';

/*
 * The receiving end's first step on every message from `…/records` (today the province emulator;
 * the gateway of issue 13 will take the same decoder): whatever arrives, decodeRecord answers a
 * record, an invalid record it can still name (so it can be refused by id), or an unreadable
 * message, and never throws. What our own encoders send always reads back as sent.
 */

const SEED = 20261129;
const names = Object.keys(RECORD_FORMATS) as RecordFormatName[];
const profiles = Object.keys(GRADE_CODE_PROFILES) as GradeCodeProfileName[];

function rated(grade: (typeof GRADES)[number], caseNo: string, latencyMs: number): StoredInvitation {
  return {
    id: uuidv7(),
    kind: 'invitation',
    schema: 1,
    terminalId: 'T-330106-A03',
    areaCode: '330106',
    hallCode: 'XH-01',
    windowNo: 'A03',
    staffId: 'S1001',
    services: [{ itemCode: '330106-XK-0012', caseNo }],
    mode: 'single',
    proxy: false,
    invitedAt: '2026-11-22T14:06:14.000Z',
    closedAt: '2026-11-22T14:06:44.000Z',
    outcome: 'rated',
    rating: { grade, reasons: [], reasonCatalogVersion: null, pressedAt: new Date(Date.parse('2026-11-22T14:06:14.000Z') + latencyMs).toISOString(), latencyMs },
    channel: 'counter',
    flags: [],
    test: false,
    clock: { synced: true, bootId: 'e67f4422deb1c69c', monoMs: 1147 },
  };
}

const anyJson = fc.jsonValue({ maxDepth: 6 });
/** Messages that look like records: a real one with one field replaced by anything. */
const tampered = fc
  .record({
    grade: fc.constantFrom(...GRADES),
    caseNo: fc.string({ minLength: 1, maxLength: 64 }).filter((s) => s.trim().length > 0),
    latencyMs: fc.integer({ min: 0, max: 600_000 }),
    field: fc.constantFrom('id', 'schema', 'kind', 'terminalId', 'areaCode', 'services', 'outcome', 'rating', 'clock', 'seq', 'flags', 'test', 'channel'),
    value: anyJson,
  })
  .map(({ grade, caseNo, latencyMs, field, value }) => {
    const body = JSON.parse(encodeRecord('v1', rated(grade, caseNo, latencyMs), 7, 'provincial-5-high')) as Record<string, unknown>;
    return { field, payload: JSON.stringify({ ...body, [field]: value }) };
  });

function expectAnswer(payload: string): void {
  const decoded = decodeRecord(payload);
  expect(['record', 'invalid', 'unreadable']).toContain(decoded.kind);
  if (decoded.kind === 'record') expect(decoded.record.id).toBe(decoded.id);
  // A refusal says what was wrong, and where.
  if (decoded.kind !== 'record') expect(decoded.reason).toMatch(/\S+/);
}

describe('fuzz: records as the receiving end reads them', () => {
  it('never throws on anything: bytes, JSON of any shape, or a real record with one field replaced', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 2000 }), anyJson.map((v) => JSON.stringify(v)), tampered.map((t) => t.payload)), (payload) => expectAnswer(payload)),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('a tampered record that still has its id is refused by that id, with a reason naming the field that is wrong', () => {
    fc.assert(
      fc.property(tampered, ({ field, payload }) => {
        const decoded = decodeRecord(payload);
        if (field !== 'id') expect(decoded.kind).not.toBe('unreadable');
        // A changed kind makes it another kind of record: the problems then name that kind's fields.
        if (decoded.kind === 'invalid' && field !== 'kind') expect(decoded.reason).toContain(field);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('the compiled parser the sealed layout reads with answers exactly as zod’s own: the same record, the same refusal', () => {
    const compiled = compile(upstreamRecordSchema);
    fc.assert(
      fc.property(fc.oneof(anyJson, tampered.map((t) => JSON.parse(t.payload) as unknown)), (body) => {
        expect(explain(compiled, body)).toEqual(explain(upstreamRecordSchema, body));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('what our encoders send reads back as sent, in every layout and grade profile', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.constantFrom(...profiles),
        fc.constantFrom(...GRADES),
        fc.string({ minLength: 1, maxLength: 64 }).filter((s) => s.trim() === s && s.length > 0),
        fc.integer({ min: 0, max: 600_000 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (format, profile, grade, caseNo, latencyMs, seq) => {
          const record = rated(grade, caseNo, latencyMs);
          const decoded = decodeRecord(encodeRecord(format, record, seq, profile));
          expect(decoded.kind).toBe('record');
          if (decoded.kind !== 'record' || decoded.record.kind !== 'invitation') return;
          expect(decoded.record).toMatchObject({ id: record.id, seq, services: record.services, rating: { grade } });
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
