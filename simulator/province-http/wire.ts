import { z } from 'zod';

/**
 * The province's side of the wire (../shared/DOMAIN.md, "The provincial 好差评 interface"): the
 * envelope `{ appMark, time, sign, data }`, the two bodies it carries and the answer
 * `{ code, success, msg }`. Written apart from gateway/province/ on purpose: a misreading on one
 * side is caught by the other.
 */

/**
 * The envelope. `data` may come as an object or as a JSON text (interfaces differ on it; both are
 * read the same). `time` may be a number when the profile writes epoch milliseconds.
 */
export const envelopeSchema = z.object({
  appMark: z.string().min(1).max(128),
  time: z.union([z.string().min(1).max(64), z.int().nonnegative().transform(String)]),
  sign: z.string().min(1).max(1024),
  data: z.union([z.record(z.string(), z.unknown()), z.string().max(1_000_000)]),
});
export type Envelope = z.output<typeof envelopeSchema>;

/** A whole number sent as a number or as a string of digits ("5" and 5 alike: interfaces differ). */
const wholeNumber = (min: number, max: number) =>
  z.union([z.int(), z.string().regex(/^\d{1,3}$/, 'expected digits').transform(Number)]).pipe(z.int().min(min).max(max));
const text = (max: number) => z.string().trim().min(1).max(max);
/** Optional text fields: absent, null and "" all mean "not given". */
const optionalText = (max: number) =>
  z
    .union([z.string().max(max), z.null()])
    .optional()
    .transform((v) => (v === null || v === undefined || v.trim() === '' ? undefined : v.trim()));

/** The service (办件) push, its area code padded to `areaCodeDigits` (12 unless the province says otherwise). Unknown extra fields are kept: a province's document may add some. */
export const serviceBodySchemaFor = (areaCodeDigits: number) =>
  z.looseObject({
    projectNo: text(64),
    taskCode: text(64),
    taskHandleItem: optionalText(64),
    serviceNumber: z.union([z.string().max(64), z.int()]).optional(),
    serviceTime: text(32),
    areaCode: z.string().regex(new RegExp(`^\\d{${areaCodeDigits}}$`), `expected ${areaCodeDigits} digits (the area code padded to ${areaCodeDigits})`),
    deptCode: text(64),
    pf: wholeNumber(1, 9).optional(),
    dataSource: z.string().regex(/^\d{3}$/, 'expected 3 digits').optional(),
  });
export const serviceBodySchema = serviceBodySchemaFor(12);
export type ServiceBody = z.output<typeof serviceBodySchema>;

/** The evaluation push: refers to a service by `projectNo`. */
export const evaluationBodySchema = z.looseObject({
  projectNo: text(64),
  satisfaction: wholeNumber(1, 5),
  evalDetail: optionalText(512),
  writingEvaluation: optionalText(2000),
  assessTime: text(32),
  assessNumber: wholeNumber(1, 2),
  pf: wholeNumber(1, 9),
  dataSource: z.string().regex(/^\d{3}$/, 'expected 3 digits'),
});
export type EvaluationBody = z.output<typeof evaluationBodySchema>;

export type Phase = 'service' | 'evaluation';

/** What the province answers, always. `code` "0" with `success` "true" is the only success. */
export interface ProvinceAnswer {
  code: string;
  success: 'true' | 'false';
  msg: string;
}

/** Every way a call is refused, its HTTP status, the province's code and message. */
export const REFUSALS = {
  bad_request: { http: 400, code: '400', msg: 'HTTP请求无法解析' },
  not_found: { http: 404, code: '404', msg: '接口不存在' },
  wrong_method: { http: 405, code: '405', msg: '请求方法不支持，请用POST' },
  too_large: { http: 413, code: '413', msg: '请求内容过大' },
  not_json: { http: 400, code: '400', msg: '请求不是合法的JSON' },
  bad_envelope: { http: 400, code: '400', msg: '报文格式错误' },
  unknown_app: { http: 200, code: '1001', msg: '未知的appMark' },
  stale_time: { http: 200, code: '1002', msg: '时间戳无效或超出允许范围' },
  bad_signature: { http: 200, code: '1003', msg: '签名验证失败' },
  invalid_fields: { http: 200, code: '1004', msg: '数据字段校验失败' },
  bad_grade_without_reason: { http: 200, code: '2001', msg: '差评须填写评价详情(evalDetail)或文字评价(writingEvaluation)' },
  unknown_service: { http: 200, code: '2002', msg: '办件不存在，请先推送办件信息' },
  duplicate: { http: 200, code: '2003', msg: '本次服务已存在评价' },
  internal: { http: 500, code: '500', msg: '系统内部错误' },
} as const satisfies Record<string, { http: number; code: string; msg: string }>;
export type RefusalReason = Exclude<keyof typeof REFUSALS, 'duplicate'>;
export const REFUSAL_REASONS = Object.keys(REFUSALS).filter((k) => k !== 'duplicate') as RefusalReason[];

export const OK_ANSWER: ProvinceAnswer = { code: '0', success: 'true', msg: '成功' };

/** A refusal's answer; `detail` (what exactly was wrong) follows the province's message. */
export function refusalAnswer(reason: keyof typeof REFUSALS, detail?: string): ProvinceAnswer {
  const r = REFUSALS[reason];
  return { code: r.code, success: 'false', msg: detail ? `${r.msg}: ${detail}` : r.msg };
}
