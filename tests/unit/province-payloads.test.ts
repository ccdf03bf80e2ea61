import { describe, expect, it } from 'vitest';
import { GRADES, type Grade } from '../../protocol/grades.js';
import { evaluationPayload, itemCodeFields, PayloadError, satisfactionOf, servicePayload, type LaterRating } from '../../gateway/province/payloads.js';
import { CATALOG, ratedRecord, sampleProfile } from './province-fixture.js';

const national = sampleProfile('national');
const other = sampleProfile('other');
const CASE = '370102-2026-000123';
/** The fixture's record moved to a hall of other.yaml. */
const otherRecord = (overrides = {}) => ratedRecord({ areaCode: '530102', hallCode: 'hall-wuhua', ...overrides });

describe('the service body', () => {
  it('national: the item code as given, the area padded, the hall’s deptCode, China time', () => {
    expect(servicePayload(national, ratedRecord(), CASE)).toEqual({
      projectNo: CASE,
      taskCode: '11370102MB2F30661Y231200356400001',
      taskName: '个体工商户设立登记',
      serviceNumber: 1,
      serviceTime: '2026-11-30 10:14:50',
      areaCode: '370102000000',
      deptCode: '11370102MB0000000Y',
      dataSource: '370',
    });
  });

  it('other: a 33-character code split into taskCode (31) and taskHandleItem', () => {
    const body = servicePayload(other, otherRecord(), CASE);
    expect(body).toMatchObject({ taskCode: '11370102MB2F30661Y2312003564000', taskHandleItem: '11370102MB2F30661Y231200356400001', areaCode: '530102000000', deptCode: '11530102MB1234567A', dataSource: '530' });
  });

  it('splits only codes of the profile’s length; "rest" keeps only the suffix', () => {
    expect(itemCodeFields(other, 'SHORT-CODE')).toEqual({ taskCode: 'SHORT-CODE' });
    const rest = sampleProfile('other', (p) => Object.assign(p.itemCode as object, { taskHandleItem: 'rest' }));
    expect(itemCodeFields(rest, 'A'.repeat(31) + 'BC')).toEqual({ taskCode: 'A'.repeat(31), taskHandleItem: 'BC' });
  });

  it('falls back to the default deptCode, and refuses a hall with none (permanent, naming the hall)', () => {
    expect(servicePayload(national, ratedRecord({ hallCode: 'hall-elsewhere' }), CASE).deptCode).toBe('11370100MB0000000X');
    expect(() => servicePayload(other, ratedRecord({ hallCode: 'hall-elsewhere' }), CASE)).toThrow(/hall hall-elsewhere has no deptCode/);
  });

  it('each case of a batch gets its own service', () => {
    const record = ratedRecord({ mode: 'batch', services: [{ itemCode: 'I-1', caseNo: 'C-1' }, { itemCode: 'I-2', caseNo: 'C-2' }] });
    expect(servicePayload(national, record, 'C-2')).toMatchObject({ projectNo: 'C-2', taskCode: 'I-2' });
    expect(() => servicePayload(national, record, 'C-3')).toThrow(/case C-3 is not in this record \(its cases: C-1, C-2\)/);
  });

  it('never delivers a test record', () => {
    expect(() => servicePayload(national, ratedRecord({ test: true }), CASE)).toThrow(PayloadError);
    expect(() => evaluationPayload(national, { record: ratedRecord({ test: true }), caseNo: CASE })).toThrow(PayloadError);
  });

  it('takes a serviceNumber the caller knows, and refuses a nonsense one', () => {
    expect(servicePayload(national, ratedRecord(), CASE, { serviceNumber: 2 }).serviceNumber).toBe(2);
    expect(() => servicePayload(national, ratedRecord(), CASE, { serviceNumber: 0 })).toThrow(/serviceNumber/);
  });
});

describe('the evaluation body', () => {
  it('national: 不满意 is 2, the reason code and its label, pf 4', () => {
    expect(evaluationPayload(national, { record: ratedRecord(), caseNo: CASE }, { catalog: CATALOG })).toEqual({
      projectNo: CASE,
      serviceNumber: 1,
      satisfaction: 2,
      evalDetail: 'R02',
      writingEvaluation: '办事效率低',
      assessTime: '2026-11-30 10:15:07',
      assessNumber: 1,
      pf: 4,
      dataSource: '370',
    });
  });

  it('other: 不满意 is 4, the reason mapped to the province’s code, pf 5', () => {
    expect(evaluationPayload(other, { record: otherRecord(), caseNo: CASE }, { catalog: CATALOG })).toMatchObject({ satisfaction: 4, evalDetail: '502', writingEvaluation: '办事效率低', pf: 5, dataSource: '530' });
  });

  it('numbers every grade by its meaning and the profile’s direction, never by the terminal’s gradeCode', () => {
    const expected: Record<Grade, [number, number]> = { very_satisfied: [5, 1], satisfied: [4, 2], basically_satisfied: [3, 3], dissatisfied: [2, 4], very_dissatisfied: [1, 5] };
    for (const grade of GRADES) {
      expect([satisfactionOf(national, grade), satisfactionOf(other, grade)]).toEqual(expected[grade]);
      // The terminal numbered it the other way round: irrelevant.
      const record = ratedRecord({ rating: { grade, gradeCode: 99, reasons: [], reasonCatalogVersion: null, pressedAt: '2026-11-30T02:15:07Z', latencyMs: 1 } });
      expect(evaluationPayload(national, { record, caseNo: CASE })?.satisfaction).toBe(expected[grade][0]);
    }
  });

  it('a case not rated or cancelled has no evaluation: the service goes alone', () => {
    const notRated = ratedRecord({ outcome: 'not_rated', rating: undefined });
    const cancelled = ratedRecord({ outcome: 'cancelled', cancelReason: 'wrong_case', rating: undefined });
    expect(evaluationPayload(national, { record: notRated, caseNo: CASE })).toBeNull();
    expect(evaluationPayload(national, { record: cancelled, caseNo: CASE })).toBeNull();
    expect(servicePayload(national, notRated, CASE).projectNo).toBe(CASE);
    // A rating left on a record whose outcome is not "rated" is not sent either.
    expect(evaluationPayload(national, { record: ratedRecord({ outcome: 'not_rated' }), caseNo: CASE })).toBeNull();
  });

  it('a bad grade with no reason chosen carries noReasonText, so that the province takes it', () => {
    const record = ratedRecord({ flags: ['no_reason'], rating: { grade: 'very_dissatisfied', gradeCode: 1, reasons: [], reasonCatalogVersion: '2026.11', pressedAt: '2026-11-30T02:15:07Z', latencyMs: 1 } });
    expect(evaluationPayload(national, { record, caseNo: CASE }, { catalog: CATALOG })).toMatchObject({ satisfaction: 1, evalDetail: '', writingEvaluation: '未选择原因' });
    const good = ratedRecord({ rating: { grade: 'satisfied', gradeCode: 4, reasons: [], reasonCatalogVersion: null, pressedAt: '2026-11-30T02:15:07Z', latencyMs: 1 } });
    expect(evaluationPayload(national, { record: good, caseNo: CASE })).toMatchObject({ evalDetail: '', writingEvaluation: '' });
  });

  it('labels come only from the rating’s own catalogue version; the codes go regardless', () => {
    const stale = { ...CATALOG, version: '2025.01' };
    expect(evaluationPayload(national, { record: ratedRecord(), caseNo: CASE }, { catalog: stale })).toMatchObject({ evalDetail: 'R02', writingEvaluation: '' });
    expect(evaluationPayload(national, { record: ratedRecord(), caseNo: CASE })).toMatchObject({ evalDetail: 'R02', writingEvaluation: '' });
    const noLabels = sampleProfile('national', (p) => Object.assign(p.reasons as object, { labelsInText: false }));
    expect(evaluationPayload(noLabels, { record: ratedRecord(), caseNo: CASE }, { catalog: CATALOG })).toMatchObject({ writingEvaluation: '' });
    const two = ratedRecord({ rating: { grade: 'dissatisfied', gradeCode: 2, reasons: ['R01', 'R03'], reasonCatalogVersion: '2026.11', pressedAt: '2026-11-30T02:15:07Z', latencyMs: 1 } });
    expect(evaluationPayload(other, { record: { ...two, hallCode: 'hall-wuhua' }, caseNo: CASE }, { catalog: CATALOG })).toMatchObject({ evalDetail: '501,503', writingEvaluation: '服务态度差；多次跑动' });
  });

  it('refuses a reason code holding a comma rather than send it as two', () => {
    const record = ratedRecord({ rating: { grade: 'dissatisfied', gradeCode: 2, reasons: ['R0,2'], reasonCatalogVersion: null, pressedAt: '2026-11-30T02:15:07Z', latencyMs: 1 } });
    expect(() => evaluationPayload(national, { record, caseNo: CASE })).toThrow(/reason code "R0,2" holds a comma/);
  });

  it('a record rated on the customer screen is channels.screen: 4 (政务大厅平板电脑) unless the profile says 5', () => {
    expect(evaluationPayload(national, { record: ratedRecord({ channel: 'screen' }), caseNo: CASE })?.pf).toBe(4);
    expect(evaluationPayload(other, { record: otherRecord({ channel: 'screen' }), caseNo: CASE }, { catalog: CATALOG })?.pf).toBe(4);
    const fiveForScreens = sampleProfile('other', (p) => Object.assign(p.channels as object, { screen: 5 }));
    expect(evaluationPayload(fiveForScreens, { record: otherRecord({ channel: 'screen' }), caseNo: CASE }, { catalog: CATALOG })?.pf).toBe(5);
    expect(() => sampleProfile('other', (p) => Object.assign(p.channels as object, { screen: 3 }))).toThrow(/channels\.screen/);
  });

  it('a record rated from the receipt QR is pf 3', () => {
    expect(evaluationPayload(national, { record: ratedRecord({ channel: 'receipt_qr' }), caseNo: CASE })?.pf).toBe(3);
  });

  it('a later rating: pf 3, its own time; a follow-up only where the profile allows it', () => {
    const later: LaterRating = { caseNo: CASE, assessNumber: 1, grade: 'basically_satisfied', reasons: [], reasonCatalog: null, ratedAt: new Date('2026-12-02T01:00:00Z') };
    expect(evaluationPayload(national, { later })).toEqual({ projectNo: CASE, serviceNumber: 1, satisfaction: 3, evalDetail: '', writingEvaluation: '', assessTime: '2026-12-02 09:00:00', assessNumber: 1, pf: 3, dataSource: '370' });
    const followUp: LaterRating = { ...later, assessNumber: 2, grade: 'very_dissatisfied', reasons: ['R01'], reasonCatalog: '2026.11', ratedAt: '2026-12-02T01:00:00Z' };
    expect(evaluationPayload(other, { later: followUp }, { catalog: CATALOG })).toMatchObject({ assessNumber: 2, satisfaction: 5, evalDetail: '501', writingEvaluation: '服务态度差', pf: 3 });
    expect(() => evaluationPayload(national, { later: followUp })).toThrow(/followUp\.allowed false/);
    expect(() => evaluationPayload(national, { later: { ...later, ratedAt: 'yesterday' } })).toThrow(/not a time/);
  });
});
