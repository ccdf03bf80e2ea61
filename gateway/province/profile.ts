import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, readConfigDocument } from '../../bridge/config.js';
import { explain } from '../../protocol/issues.js';
import { timeFormatSchema } from './time-format.js';
import { isUrlPlaceholder, templatePlaceholders } from '../../protocol/url-template.js';

/*
 * Contract: a province profile (YAML; docs/province-profile.md documents it field by field).
 * `loadProvinceProfile(path)` reads and checks one and returns a `ProvinceProfile` whose file
 * paths are absolute (relative ones are taken from the profile's folder). It holds no secret:
 * the appWord and the SM2 private key stay in their files (or the environment) until
 * `loadProvinceSecrets` (secrets.ts) reads them. Every refusal is a ConfigError naming the field.
 */

/** A secret is never in the profile; only where it is. */
const filePath = z.string().trim().min(1, 'a file path is required');

const endpointUrl = z.url({ protocol: /^https?$/, error: 'expected the interface URL, such as https://hcp.province.example/api/service' });

/** appMark, deptCode, dataSource…: one line of printable text, since they go into a signed string and JSON. */
const printable = (what: string, max: number) =>
  z
    .string()
    .min(1, `${what} is required`)
    .max(max, `${what}: at most ${max} characters`)
    // eslint-disable-next-line no-control-regex
    .refine((text) => !/[\u0000-\u001f\u007f]/.test(text), `${what} contains a control character`);

/** Our SM2 public key as the province is given it: uncompressed (04‖x‖y, 130 hex) or compressed (02/03‖x, 66 hex). */
export const sm2PublicKeyHexSchema = z
  .string()
  .trim()
  .transform((key) => key.toLowerCase())
  .refine((key) => /^04[0-9a-f]{128}$/.test(key) || /^0[23][0-9a-f]{64}$/.test(key), 'expected the SM2 public key in hex: 130 characters starting 04, or 66 starting 02 or 03 (`hcp gateway province keygen` prints it)');

/** The `pf` values this project sends: a button terminal is 4 (hall tablet) or 5 (other hall terminal) by province; a receipt QR is 3. */
const counterChannel = z.literal([4, 5], { error: 'expected 4 (政务大厅平板电脑) or 5 (政务大厅其他终端), as the province says' });

const itemCodeSchema = z
  .strictObject({
    /** Split long item codes into taskCode and taskHandleItem. */
    split: z.boolean().default(false),
    /** Codes of exactly this length are split (33: a 31-character 实施编码 and a 2-character 业务办理项 suffix). */
    length: z.number().int().min(2).max(64).default(33),
    /** taskCode is the code's first this many characters. */
    taskCodeLength: z.number().int().min(1).max(63).default(31),
    /** taskHandleItem: the whole code (the 业务办理项编码 itself, the usual reading) or only what follows taskCode. */
    taskHandleItem: z.enum(['whole', 'rest']).default('whole'),
  })
  .refine((item) => item.taskCodeLength < item.length, { message: 'taskCodeLength must be less than length', path: ['taskCodeLength'] });

const reasonsSchema = z.strictObject({
  /** Catalogue code → evalDetail code; a code not listed is sent as it is (identity). */
  codes: z.record(printable('a catalogue code', 32), printable('an evalDetail code', 32).refine((code) => !code.includes(','), 'an evalDetail code cannot hold a comma (evalDetail is a comma-separated list)')).default({}),
  /** Put the chosen reasons' labels (from the catalogue) into writingEvaluation, joined by "；". */
  labelsInText: z.boolean().default(true),
  /** writingEvaluation for a bad grade with no reason chosen (the province refuses a bad grade with neither evalDetail nor text). */
  noReasonText: printable('noReasonText', 200).default('未选择原因'),
});

const rateLaterSchema = z.strictObject({
  /** gateway: the receipt QR leads to the gateway's own page; province: to the province's page (urlTemplate). */
  mode: z.enum(['gateway', 'province']).default('gateway'),
  /** The province's rating page, with placeholders such as {caseNo} and {areaCode} (protocol/url-template.ts). */
  urlTemplate: z.string().trim().min(1).max(2000).optional(),
  /** How long after the service a citizen may still rate (natural days). */
  periodDays: z.number().int().min(1).max(90).default(7),
});

const httpSchema = z
  .strictObject({
    /** One call's limit, connection to answer. */
    timeoutMs: z.number().int().min(100).max(300_000).default(15_000),
    /** At most this many calls per second to the province (both endpoints together). */
    perSecond: z.number().min(0.01).max(1000).default(5),
    /** After this many failed attempts of one delivery, it is counted as alerting (it is still retried). */
    maxAttemptsBeforeAlert: z.number().int().min(1).max(10_000).default(10),
    backoff: z
      .strictObject({
        /** The first retry waits about this long; each next one twice as long (with jitter)… */
        baseMs: z.number().int().min(10).max(86_400_000).default(5_000),
        /** …but never longer than this. */
        maxMs: z.number().int().min(10).max(7 * 86_400_000).default(3_600_000),
      })
      .refine((b) => b.maxMs >= b.baseMs, { message: 'maxMs must be at least baseMs', path: ['maxMs'] })
      .prefault({}),
  })
  .prefault({});

const answersSchema = z
  .strictObject({
    /** A refusal whose message contains one of these is a duplicate: the province has it, it counts as delivered. */
    duplicatePatterns: z.array(printable('a duplicate pattern', 200)).min(1).default(['本次服务已存在评价', '已存在评价', '重复评价', '重复推送']),
  })
  .prefault({});

const provinceProfileObjectSchema = z.strictObject({
  /** A name for people (logs, the hall view): which province or lab this is. */
  name: printable('name', 100),
  endpoints: z.strictObject({
    /** The service push (办件/服务信息). */
    service: endpointUrl,
    /** The evaluation push (评价信息). */
    evaluation: endpointUrl,
  }),
  /** http:// endpoints (and page template) are refused unless this is true: for the emulator and a lab only. */
  allowInsecureHttp: z.boolean().default(false),
  /** Our system's mark as the province registered it (接入系统标识): sent in every envelope and signed. */
  appMark: printable('appMark', 128),
  /** A file (mode 600) holding the appWord (接入密钥) on one line. Give this or appWordEnv. */
  appWordFile: filePath.optional(),
  /** The name of an environment variable holding the appWord. */
  appWordEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'expected an environment variable name such as HCP_PROVINCE_APPWORD')
    .optional(),
  sm2: z.strictObject({
    /** Our private key (64 hex characters on one line, mode 600): it signs every envelope. */
    privateKeyFile: filePath,
    /** Our public key (hex), as registered with the province: checked against the private key at start. */
    publicKey: sm2PublicKeyHexSchema,
    /** How `sign` is written: r‖s in hex (128 characters), or the ASN.1 DER signature in hex or base64. */
    signatureFormat: z.enum(['raw_hex', 'der_hex', 'der_base64']).default('raw_hex'),
    /** The SM2 signer's identity in the SM3 pre-hash (Z): GM/T 0009's default unless the province says otherwise. */
    userId: printable('userId', 64).default('1234567812345678'),
  }),
  time: z
    .strictObject({
      /** The envelope's `time` (signed with appMark and appWord). */
      envelope: timeFormatSchema.default('yyyyMMddHHmmss'),
      /** serviceTime and assessTime in the bodies. */
      fields: timeFormatSchema.default('yyyy-MM-dd HH:mm:ss'),
      /** The province refuses an envelope whose time is further than this from its clock (the emulator enforces it). */
      windowSeconds: z.number().int().min(10).max(86_400).default(300),
    })
    .prefault({}),
  /** The province's 3-digit source code for this system (数据来源). */
  dataSource: z.string().regex(/^\d{3}$/, 'expected the 3-digit data source code the province assigned, e.g. "370"'),
  channels: z.strictObject({
    counter: counterChannel,
    /** A rating touched on the window's customer screen (bridge/screen/): a tablet, 4, unless the province classes it 5. */
    screen: counterChannel.default(4),
    receiptQr: z.literal(3, { error: 'a receipt QR rating is pf 3 (二维码)' }).default(3),
  }),
  /** five_is_best: 5 = 非常满意 … 1 = 非常不满意 (most provincial interfaces); one_is_best: GB/T 39046's 1 = 非常满意 … 5. */
  satisfaction: z.enum(['five_is_best', 'one_is_best'], { error: 'expected five_is_best (5 = 非常满意) or one_is_best (1 = 非常满意)' }),
  /** areaCode is the 6-digit 行政区划代码 right-padded with zeros to this many digits. */
  areaCodeDigits: z.number().int().min(6).max(12).default(12),
  /** The department code (部门编码) sent as deptCode for every hall not listed under halls. */
  deptCode: printable('deptCode', 64).optional(),
  /** Per hall code: its own deptCode. */
  halls: z.record(printable('a hall code', 64), z.strictObject({ deptCode: printable('deptCode', 64) })).default({}),
  itemCode: itemCodeSchema.prefault({}),
  reasons: reasonsSchema.prefault({}),
  /** What is sent for a case not rated at the counter: the service only, so that the province applies its default rating. */
  notRated: z.literal('service_only').default('service_only'),
  /** What is sent for an invitation staff cancelled: the service only. */
  cancelled: z.literal('service_only').default('service_only'),
  followUp: z
    .strictObject({
      /** A rating on the receipt page after a counter rating is sent as a follow-up (追评, assessNumber 2); false: refused as already rated. */
      allowed: z.boolean().default(false),
    })
    .prefault({}),
  rateLater: rateLaterSchema.prefault({}),
  http: httpSchema,
  answers: answersSchema,
});

export const provinceProfileSchema = provinceProfileObjectSchema.superRefine((profile, ctx) => {
  if ((profile.appWordFile === undefined) === (profile.appWordEnv === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['appWordFile'], message: 'give appWordFile (a file, mode 600) or appWordEnv (an environment variable), exactly one: the appWord is never written in the profile' });
  }
  const insecure = (url: string) => url.toLowerCase().startsWith('http:');
  for (const key of ['service', 'evaluation'] as const) {
    if (!profile.allowInsecureHttp && insecure(profile.endpoints[key])) {
      ctx.addIssue({ code: 'custom', path: ['endpoints', key], message: 'http:// sends the appWord’s signature and the ratings in clear: use https://, or set allowInsecureHttp: true for the emulator or a lab' });
    }
  }
  if (profile.deptCode === undefined && Object.keys(profile.halls).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['deptCode'], message: 'give deptCode (for every hall) or halls: { <hallCode>: { deptCode } }: every service names its department' });
  }
  const { urlTemplate, mode } = profile.rateLater;
  if (mode === 'province' && urlTemplate === undefined) {
    ctx.addIssue({ code: 'custom', path: ['rateLater', 'urlTemplate'], message: 'rateLater.mode province needs urlTemplate: the province’s rating page, e.g. https://…/pj?projectNo={caseNo}&areaCode={areaCode}' });
  }
  if (urlTemplate !== undefined) {
    const checked = endpointUrl.safeParse(urlTemplate.replace(/\{[^{}]*\}/g, 'x'));
    if (!checked.success) ctx.addIssue({ code: 'custom', path: ['rateLater', 'urlTemplate'], message: 'expected an http(s) URL with placeholders such as {caseNo}' });
    else if (!profile.allowInsecureHttp && insecure(urlTemplate)) ctx.addIssue({ code: 'custom', path: ['rateLater', 'urlTemplate'], message: 'use https:// (or allowInsecureHttp: true for a lab)' });
    for (const name of templatePlaceholders(urlTemplate)) {
      if (!isUrlPlaceholder(name)) ctx.addIssue({ code: 'custom', path: ['rateLater', 'urlTemplate'], message: `unknown placeholder {${name}}: expected {caseNo}, {areaCode}, {areaCode6}, {itemCode}, {taskCode}, {deptCode}, {hallCode} or {windowNo}` });
    }
  }
});

export type ProvinceProfile = z.infer<typeof provinceProfileSchema>;
export type ProvinceProfileInput = z.input<typeof provinceProfileSchema>;

/** Checks a profile's contents (already parsed from YAML); `baseDir` makes its file paths absolute. */
export function parseProvinceProfile(input: unknown, source = 'province profile', baseDir?: string): ProvinceProfile {
  const result = explain(provinceProfileSchema, input);
  if (!result.ok) throw new ConfigError(`${source} is invalid:`, result.problems);
  const profile = result.data;
  if (baseDir === undefined) return profile;
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  return {
    ...profile,
    ...(profile.appWordFile !== undefined && { appWordFile: absolute(profile.appWordFile) }),
    sm2: { ...profile.sm2, privateKeyFile: absolute(profile.sm2.privateKeyFile) },
  };
}

/** Reads and checks a profile file (YAML or JSON); a ConfigError lists each problem as `field.path: what`. */
export function loadProvinceProfile(path: string): ProvinceProfile {
  return parseProvinceProfile(readConfigDocument(path), `province profile ${path}`, dirname(resolve(path)));
}

/** The deptCode for a hall: its own, else the profile's default; undefined when neither is given. */
export function deptCodeFor(profile: ProvinceProfile, hallCode: string): string | undefined {
  return (Object.hasOwn(profile.halls, hallCode) ? profile.halls[hallCode]?.deptCode : undefined) ?? profile.deptCode;
}
