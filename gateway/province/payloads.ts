import { gradeCode, GRADE_INFO, type Grade } from '../../protocol/grades.js';
import type { ReasonCatalog } from '../../protocol/province-config.js';
import type { InvitationRecord } from '../../protocol/records.js';
import { deptCodeFor, type ProvinceProfile } from './profile.js';
import { formatProvinceTime } from './time-format.js';

/*
 * Contract: the two bodies (the envelope's `data`, docs/province-profile.md "The bodies"), pure
 * functions of a stored record or a later rating and the profile:
 *   servicePayload(profile, record, caseNo, { serviceNumber? }) → ServiceBody
 *   evaluationPayload(profile, { record, caseNo } | { later }, { catalog?, serviceNumber? })
 *     → EvaluationBody, or null when there is nothing to rate (not_rated, cancelled: the service
 *       alone goes, so that the province applies its default rating)
 * A record that cannot be delivered as it is (a test record, a case not in it, a hall without
 * deptCode, a follow-up the profile does not allow) throws PayloadError: permanent, so the
 * delivery queue keeps it as rejected with the message instead of retrying.
 * `satisfaction` comes from the grade's MEANING and profile.satisfaction, never from gradeCode.
 */

/** What the payloads read of a stored invitation record (InvitationRecord, or its stored form with no seq/gradeCode). */
export type PayloadRecord = Pick<InvitationRecord, 'areaCode' | 'hallCode' | 'services' | 'invitedAt' | 'outcome' | 'channel' | 'test'> & {
  rating?: Pick<NonNullable<InvitationRecord['rating']>, 'grade' | 'reasons' | 'reasonCatalogVersion' | 'pressedAt'> | undefined;
};

/** A rating made later on the gateway's page from a receipt's QR code (a later_ratings row). */
export interface LaterRating {
  caseNo: string;
  /** 1: the case's first rating; 2: a follow-up (追评) after a counter rating. */
  assessNumber: 1 | 2;
  grade: Grade;
  /** Catalogue codes chosen, as the page offered them. */
  reasons: readonly string[];
  /** The catalogue version the page offered (later_ratings.reason_catalog). */
  reasonCatalog: string | null;
  ratedAt: Date | string;
}

export interface ServiceBody {
  /** 办件编号. */
  projectNo: string;
  /** 事项编码 (实施编码): the item code, or its first taskCodeLength characters when the profile splits. */
  taskCode: string;
  /** 业务办理项编码: only when the item code was split. */
  taskHandleItem?: string;
  /** 事项名称, when the business system gave it. */
  taskName?: string;
  /** The service's number within the case: 1 unless the caller knows of earlier services of the same case. */
  serviceNumber: number;
  serviceTime: string;
  /** 行政区划代码, right-padded with zeros to profile.areaCodeDigits. */
  areaCode: string;
  deptCode: string;
  dataSource: string;
}

export interface EvaluationBody {
  projectNo: string;
  serviceNumber: number;
  /** The grade as the profile numbers it. */
  satisfaction: number;
  /** Reason codes, comma-separated; "" when none. */
  evalDetail: string;
  /** Reason text; "" when none; profile.reasons.noReasonText for a bad grade with no reason. */
  writingEvaluation: string;
  assessTime: string;
  /** 1: first rating; 2: follow-up (追评). */
  assessNumber: 1 | 2;
  /** Channel: profile.channels.counter for a button press, .screen for the customer screen, 3 for a receipt QR. */
  pf: number;
  dataSource: string;
}

/** Which of the profile's channels a record's `channel` is sent as. */
const CHANNEL_KEYS = { counter: 'counter', screen: 'screen', receipt_qr: 'receiptQr' } as const satisfies Record<InvitationRecord['channel'], keyof ProvinceProfile['channels']>;

export class PayloadError extends Error {
  override name = 'PayloadError';
}

export interface PayloadOptions {
  serviceNumber?: number;
  /** The reason catalogue, for the labels that go into writingEvaluation. Used only when its version is the rating's. */
  catalog?: ReasonCatalog | undefined;
}

/** Splits an item code per profile.itemCode. */
export function itemCodeFields(profile: ProvinceProfile, itemCode: string): Pick<ServiceBody, 'taskCode' | 'taskHandleItem'> {
  const rule = profile.itemCode;
  if (!rule.split || itemCode.length !== rule.length) return { taskCode: itemCode };
  const taskCode = itemCode.slice(0, rule.taskCodeLength);
  return { taskCode, taskHandleItem: rule.taskHandleItem === 'whole' ? itemCode : itemCode.slice(rule.taskCodeLength) };
}

export function paddedAreaCode(profile: ProvinceProfile, areaCode: string): string {
  return areaCode.padEnd(profile.areaCodeDigits, '0');
}

/** The grade as the profile numbers it: five_is_best is the provincial 5 = 非常满意; one_is_best is GB/T 39046's. */
export function satisfactionOf(profile: ProvinceProfile, grade: Grade): number {
  return gradeCode(grade, profile.satisfaction === 'five_is_best' ? 'provincial-5-high' : 'gbt-39046');
}

function serviceOf(record: PayloadRecord, caseNo: string) {
  if (record.test) throw new PayloadError('a test record is never delivered to the province');
  const service = record.services.find((s) => s.caseNo === caseNo);
  if (!service) throw new PayloadError(`case ${caseNo} is not in this record (its cases: ${record.services.map((s) => s.caseNo).join(', ')})`);
  return service;
}

function fieldTime(profile: ProvinceProfile, at: Date | string, what: string): string {
  const date = typeof at === 'string' ? new Date(at) : at;
  if (Number.isNaN(date.getTime())) throw new PayloadError(`${what} is not a time: ${String(at)}`);
  return formatProvinceTime(date, profile.time.fields);
}

function serviceNumberOf(options: PayloadOptions): number {
  const n = options.serviceNumber ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new PayloadError(`serviceNumber must be a whole number from 1, not ${n}`);
  return n;
}

export function servicePayload(profile: ProvinceProfile, record: PayloadRecord, caseNo: string, options: PayloadOptions = {}): ServiceBody {
  const service = serviceOf(record, caseNo);
  const deptCode = deptCodeFor(profile, record.hallCode);
  if (deptCode === undefined) throw new PayloadError(`hall ${record.hallCode} has no deptCode in the province profile (halls.${record.hallCode}.deptCode, or deptCode for every hall)`);
  return {
    projectNo: caseNo,
    ...itemCodeFields(profile, service.itemCode),
    ...(service.itemName !== undefined && { taskName: service.itemName }),
    serviceNumber: serviceNumberOf(options),
    serviceTime: fieldTime(profile, record.invitedAt, 'invitedAt'),
    areaCode: paddedAreaCode(profile, record.areaCode),
    deptCode,
    dataSource: profile.dataSource,
  };
}

interface Rated {
  caseNo: string;
  grade: Grade;
  reasons: readonly string[];
  catalogVersion: string | null;
  at: Date | string;
  assessNumber: 1 | 2;
  pf: number;
}

export type EvaluationSource = { record: PayloadRecord; caseNo: string } | { later: LaterRating };

/** The evaluation body, or null for a case with nothing rated (not_rated, cancelled: the service alone is sent). */
export function evaluationPayload(profile: ProvinceProfile, source: EvaluationSource, options: PayloadOptions = {}): EvaluationBody | null {
  let rated: Rated;
  if ('record' in source) {
    const { record, caseNo } = source;
    serviceOf(record, caseNo);
    if (record.outcome !== 'rated' || !record.rating) return null;
    rated = {
      caseNo,
      grade: record.rating.grade,
      reasons: record.rating.reasons,
      catalogVersion: record.rating.reasonCatalogVersion,
      at: record.rating.pressedAt,
      assessNumber: 1,
      pf: profile.channels[CHANNEL_KEYS[record.channel]],
    };
  } else {
    const { later } = source;
    if (later.assessNumber === 2 && !profile.followUp.allowed) throw new PayloadError(`case ${later.caseNo}: a follow-up rating (追评, assessNumber 2) and the profile has followUp.allowed false`);
    rated = { caseNo: later.caseNo, grade: later.grade, reasons: later.reasons, catalogVersion: later.reasonCatalog, at: later.ratedAt, assessNumber: later.assessNumber, pf: profile.channels.receiptQr };
  }
  const { evalDetail, writingEvaluation } = reasonFields(profile, rated, options.catalog);
  return {
    projectNo: rated.caseNo,
    serviceNumber: serviceNumberOf(options),
    satisfaction: satisfactionOf(profile, rated.grade),
    evalDetail,
    writingEvaluation,
    assessTime: fieldTime(profile, rated.at, 'the rating time'),
    assessNumber: rated.assessNumber,
    pf: rated.pf,
    dataSource: profile.dataSource,
  };
}

/**
 * evalDetail: each catalogue code mapped by profile.reasons.codes (identity when not listed).
 * writingEvaluation: the labels, when the profile wants them and the catalogue is the rating's.
 * A bad grade with neither gets noReasonText: the province refuses a bad grade with no reason,
 * and the citizen's bad grade must stand (DOMAIN.md: flagged "no reason given").
 */
function reasonFields(profile: ProvinceProfile, rated: Rated, catalog: ReasonCatalog | undefined): Pick<EvaluationBody, 'evalDetail' | 'writingEvaluation'> {
  const map = profile.reasons.codes;
  const codes = rated.reasons.map((code) => (Object.hasOwn(map, code) ? (map[code] ?? code) : code));
  const unsendable = codes.find((code) => code.includes(','));
  // A comma would make one code two at the province: corrupt data, not a reason to guess.
  if (unsendable !== undefined) throw new PayloadError(`reason code ${JSON.stringify(unsendable)} holds a comma: evalDetail is a comma-separated list`);
  const evalDetail = codes.join(',');
  const sameCatalog = catalog !== undefined && (rated.catalogVersion === null || rated.catalogVersion === catalog.version);
  const labels = profile.reasons.labelsInText && sameCatalog ? rated.reasons.map((code) => catalog.reasons.find((r) => r.code === code)?.label).filter((l): l is string => l !== undefined) : [];
  let writingEvaluation = labels.join('；');
  if (GRADE_INFO[rated.grade].class === 'bad' && evalDetail === '' && writingEvaluation === '') writingEvaluation = profile.reasons.noReasonText;
  return { evalDetail, writingEvaluation };
}
