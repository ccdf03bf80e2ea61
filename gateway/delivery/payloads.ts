import type { ReasonCatalog } from '../../protocol/province-config.js';
import { evaluationPayload, servicePayload, type EvaluationBody, type EvaluationSource, type PayloadRecord, type ServiceBody } from '../province/payloads.js';
import type { ProvinceProfile } from '../province/profile.js';

/**
 * The bodies the queue sends, injected so that the worker's tests need no profile. A throw is a
 * permanent refusal of ours (gateway/province/payloads.ts's PayloadError): the row is kept as
 * rejected with the message, never retried blindly.
 */
export interface DeliveryPayloads {
  service(record: PayloadRecord, caseNo: string): ServiceBody;
  /** null: nothing rated (not_rated, cancelled): the service alone goes. */
  evaluation(source: EvaluationSource): EvaluationBody | null;
}

/** The profile's bodies; `catalog`: the reason catalogue in effect (its labels go into writingEvaluation where the profile wants them). */
export function profilePayloads(profile: ProvinceProfile, catalog?: () => ReasonCatalog | undefined): DeliveryPayloads {
  return {
    service: (record, caseNo) => servicePayload(profile, record, caseNo),
    evaluation: (source) => evaluationPayload(profile, source, { catalog: catalog?.() }),
  };
}
