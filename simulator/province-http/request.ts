import { explain } from '../../protocol/issues.js';
import { isSm2PublicKey, signedText, verifySm2, type SignatureFormat } from './signature.js';
import { parseProvinceTime, type TimeFormat } from '../../gateway/province/time-format.js';
import { envelopeSchema, evaluationBodySchema, serviceBodySchema, serviceBodySchemaFor, type EvaluationBody, type Phase, type RefusalReason, type ServiceBody } from './wire.js';

/**
 * Reading one call to the interface, outside in: JSON, the envelope, the caller (appMark), the
 * time window, the SM2 signature, then the body for the endpoint. The first thing wrong is the
 * refusal, said with what and where. Pure (the clock's reading is passed in): the fuzz target.
 */

/** A caller the province knows: its appWord (shared secret) and the SM2 public key it registered. */
export interface Caller {
  appWord: string;
  publicKey: string;
}

export interface CallSettings {
  callers: ReadonlyMap<string, Caller>;
  timeFormat: TimeFormat;
  signatureFormat: SignatureFormat;
  /** The signer's user id in Z. */
  userId: string;
  /** How far `time` may be from the province's clock, either way. */
  timeWindowMs: number;
  /** The area code's length (the 6-digit code right-padded with zeros). Default 12. */
  areaCodeDigits?: number;
}

export type ParsedCall =
  | { ok: true; appMark: string; phase: 'service'; body: ServiceBody }
  | { ok: true; appMark: string; phase: 'evaluation'; body: EvaluationBody }
  | { ok: false; appMark: string | undefined; reason: RefusalReason; detail: string };

/** A value from the caller, shortened for an answer or a log (never echo a megabyte back). */
export const shown = (value: string, max = 64): string => (value.length > max ? `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)` : JSON.stringify(value));

export function parseCall(text: string, phase: Phase, settings: CallSettings, now: Date): ParsedCall {
  const refuse = (reason: RefusalReason, detail: string, appMark?: string): ParsedCall => ({ ok: false, appMark, reason, detail });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return refuse('not_json', text.length === 0 ? 'the body is empty' : (err as Error).message.slice(0, 160));
  }
  const envelope = explain(envelopeSchema, json);
  if (!envelope.ok) return refuse('bad_envelope', `expected {appMark, time, sign, data}: ${envelope.problems.join('; ')}`);
  const { appMark, time, sign, data } = envelope.data;
  const caller = settings.callers.get(appMark);
  if (!caller) return refuse('unknown_app', `appMark ${shown(appMark)} is not registered`, appMark);
  const at = parseProvinceTime(time, settings.timeFormat);
  if (!at) return refuse('stale_time', `time ${shown(time)} is not ${settings.timeFormat} (Asia/Shanghai)`, appMark);
  const skew = at.getTime() - now.getTime();
  if (Math.abs(skew) > settings.timeWindowMs) {
    return refuse('stale_time', `time ${time} is ${Math.round(Math.abs(skew) / 1000)} s ${skew < 0 ? 'behind' : 'ahead of'} the province's clock (window ±${settings.timeWindowMs / 1000} s)`, appMark);
  }
  if (!verifySm2(signedText(time, appMark, caller.appWord), sign, caller.publicKey, settings.signatureFormat, settings.userId)) {
    return refuse('bad_signature', `sign does not verify as SM2 (${settings.signatureFormat}, SM3 with Z of user id ${shown(settings.userId, 32)}) over time+appMark+appWord with the key registered for ${shown(appMark)}`, appMark);
  }
  let payload: unknown = data;
  if (typeof data === 'string') {
    try {
      payload = JSON.parse(data);
    } catch (err) {
      return refuse('invalid_fields', `data is a string that is not JSON: ${(err as Error).message.slice(0, 120)}`, appMark);
    }
  }
  if (phase === 'service') {
    const body = explain(serviceSchema(settings.areaCodeDigits ?? 12), payload);
    return body.ok ? { ok: true, appMark, phase, body: body.data } : refuse('invalid_fields', prefixed(body.problems), appMark);
  }
  const body = explain(evaluationBodySchema, payload);
  return body.ok ? { ok: true, appMark, phase, body: body.data } : refuse('invalid_fields', prefixed(body.problems), appMark);
}

const serviceSchemas = new Map([[12, serviceBodySchema]]);
function serviceSchema(areaCodeDigits: number) {
  let schema = serviceSchemas.get(areaCodeDigits);
  if (!schema) serviceSchemas.set(areaCodeDigits, (schema = serviceBodySchemaFor(areaCodeDigits)));
  return schema;
}

const prefixed = (problems: string[]) => problems.map((p) => (p.startsWith('(top level)') ? p.replace('(top level)', 'data') : p.startsWith('and ') ? p : `data.${p}`)).join('; ');

/** The callers as a map, each public key checked (a wrong key in the settings is the tester's mistake: said at start). */
export function callerMap(callers: Record<string, Caller> | ReadonlyMap<string, Caller>): Map<string, Caller> {
  const entries = callers instanceof Map ? [...callers.entries()] : Object.entries(callers);
  for (const [appMark, caller] of entries) {
    if (!isSm2PublicKey(caller.publicKey)) throw new Error(`province emulator: callers.${appMark}.publicKey is not an SM2 public key in hex (04‖x‖y, 130 hex digits, or compressed)`);
    if (caller.appWord.length === 0) throw new Error(`province emulator: callers.${appMark}.appWord is empty`);
  }
  return new Map(entries);
}
