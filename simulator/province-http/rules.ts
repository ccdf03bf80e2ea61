import type { ProvinceLedger } from './state.js';
import type { EvaluationBody, RefusalReason, ServiceBody } from './wire.js';

/**
 * The province's rules for a well-formed, signed call (DOMAIN.md, "Rules seen"): a bad grade
 * carries a reason code or text; one evaluation per (projectNo, assessNumber); no evaluation for
 * a service never pushed.
 */

/** Which end of `satisfaction` is best: 5 = 非常满意 in the national numbering; some provinces run it the other way. */
export type GradeDirection = 'five_is_best' | 'one_is_best';

export type RuleOutcome = { kind: 'accepted' } | { kind: 'duplicate' } | { kind: 'refused'; reason: RefusalReason; detail: string };

/** 不满意 or 非常不满意: below 3 when five is best, above 3 when one is best. */
export function isBadGrade(satisfaction: number, direction: GradeDirection): boolean {
  return direction === 'five_is_best' ? satisfaction < 3 : satisfaction > 3;
}

/** A service pushed again is answered success (the province keeps the first): pushing is idempotent. */
export function applyService(ledger: ProvinceLedger, body: ServiceBody, appMark: string, at: Date): RuleOutcome {
  const repeat = ledger.service(body.projectNo) !== undefined;
  ledger.addService({ at: at.toISOString(), appMark, body, pushes: 1 });
  return repeat ? { kind: 'duplicate' } : { kind: 'accepted' };
}

export function applyEvaluation(ledger: ProvinceLedger, body: EvaluationBody, appMark: string, at: Date, direction: GradeDirection): RuleOutcome {
  if (isBadGrade(body.satisfaction, direction) && body.evalDetail === undefined && body.writingEvaluation === undefined) {
    return { kind: 'refused', reason: 'bad_grade_without_reason', detail: `satisfaction ${body.satisfaction} (${direction}) with neither evalDetail nor writingEvaluation` };
  }
  if (ledger.service(body.projectNo) === undefined) {
    return { kind: 'refused', reason: 'unknown_service', detail: `projectNo ${JSON.stringify(body.projectNo)} was never pushed as a service` };
  }
  if (ledger.hasEvaluation(body.projectNo, body.assessNumber)) return { kind: 'duplicate' };
  ledger.addEvaluation({ at: at.toISOString(), appMark, body });
  return { kind: 'accepted' };
}
