import type { GradeClass } from '../../protocol/grades.js';
import type { Outcome } from '../../protocol/records.js';

/** The words a hall manager reads for an invitation's outcome, a grade's class and where a rating was made (dashboard and exports). */
export const OUTCOME_NAMES: Record<Outcome, string> = { rated: '已评价', not_rated: '未评价', cancelled: '已取消' };
export const GRADE_CLASS_NAMES: Record<GradeClass, string> = { good: '好评', neutral: '中评', bad: '差评' };
export const RATED_VIA_NAMES = { counter: '窗口评价器', screen: '窗口评价屏', receipt: '回执扫码', window_sign: '窗口码扫码' } as const;
export type RatedVia = keyof typeof RATED_VIA_NAMES;
