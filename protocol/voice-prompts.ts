import { BUTTON_COUNT } from './grades.js';

/**
 * The terminal's spoken prompts: one list, with the words a citizen hears and the clip number a
 * terminal with its own sound module plays (the `say` frame, protocol/serial-messages.ts; its
 * sound card holds clip N as file N). A hall may replace any prompt with its own recording under
 * the same name (docs/audio.md); the default recordings are synthesized from these texts.
 */
export const PROMPTS = {
  invite: { clip: 1, text: '您好，请您对本次服务进行评价' },
  thanks: { clip: 2, text: '谢谢您的评价' },
  /** Said before the offered reasons: each follows as `reason_key_N` and the reason's own label. */
  reasons: { clip: 3, text: '请选择不满意的原因' },
  timeout: { clip: 4, text: '本次评价已超时，谢谢' },
  greeting: { clip: 5, text: '您好，欢迎办理业务' },
  one_metre_line: { clip: 6, text: '请在一米线外等候' },
  paused: { clip: 7, text: '本窗口暂停服务，请稍候' },
  resumed: { clip: 8, text: '本窗口恢复服务' },
  reason_key_1: { clip: 11, text: '按1键' },
  reason_key_2: { clip: 12, text: '按2键' },
  reason_key_3: { clip: 13, text: '按3键' },
  reason_key_4: { clip: 14, text: '按4键' },
  reason_key_5: { clip: 15, text: '按5键' },
} as const;

export type PromptName = keyof typeof PROMPTS;
export const PROMPT_NAMES = Object.keys(PROMPTS) as PromptName[];

/** What staff may ask the terminal to say at any time (the console's and the API's announce). */
export const ANNOUNCEMENTS = ['greeting', 'one_metre_line'] as const satisfies readonly PromptName[];
export type Announcement = (typeof ANNOUNCEMENTS)[number];

/** The prompt that names reason button `index` (0-based), before the reason's label is read. */
export function reasonKeyPrompt(index: number): PromptName {
  if (!Number.isInteger(index) || index < 0 || index >= BUTTON_COUNT) throw new RangeError(`reason button ${index} is not one of 0-${BUTTON_COUNT - 1}`);
  return `reason_key_${index + 1}` as PromptName;
}
