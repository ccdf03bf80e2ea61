import { PROMPTS, reasonKeyPrompt, type PromptName } from '../../protocol/voice-prompts.js';
import type { OfferedReason } from '../bridge-events.js';

/**
 * One thing said at the counter: a prompt of protocol/voice-prompts.ts, or a reason's label from
 * the province's catalogue (said after its `reason_key_N` prompt; it has no clip number).
 */
export type Utterance = { kind: 'prompt'; name: PromptName } | { kind: 'label'; code: string; text: string };

export const prompt = (name: PromptName): Utterance => ({ kind: 'prompt', name });

/**
 * After a bad grade: 请选择不满意的原因, then for each offered reason 按N键 and its label. When the
 * citizen chooses on the customer screen (the terminal's buttons are off), the screen shows the
 * reasons as text: no button is named.
 */
export function reasonsScript(reasons: readonly OfferedReason[], via: 'terminal' | 'screen'): Utterance[] {
  if (via === 'screen') return [prompt('reasons')];
  return [
    prompt('reasons'),
    ...[...reasons]
      .sort((a, b) => a.button - b.button)
      .flatMap((reason): Utterance[] => [prompt(reasonKeyPrompt(reason.button)), { kind: 'label', code: reason.code, text: reason.label }]),
  ];
}

/** How an utterance reads in a log line or a status (never more than the words themselves). */
export function describeUtterance(u: Utterance): string {
  return u.kind === 'prompt' ? `${u.name} (${PROMPTS[u.name].text})` : `reason ${u.code} (${u.text})`;
}
