/**
 * Why a rating looks wrong (DOMAIN: fraud): the flags the bridge sets on a record
 * (bridge/desk/honesty.ts) and those the gateway adds from what it sees across records. A flagged
 * rating is listed, and hidden from the default figures by a switch that shows it again; it is
 * never deleted, never changed. Other flags on records (device_silent, no_reason, …) are about
 * health, not misuse, and hide nothing.
 */
export const MISUSE_FLAGS = {
  fast_press: '邀请后过快按键',
  grade_burst: '连续相同评价',
  stray_nearby: '邀请前有误按',
  repeat_case: '同一办件重复邀请',
  many_cancels: '该工作人员当日取消邀请过多',
  window_sign: '扫窗口码评价（无回执凭证）',
} as const;

export type MisuseFlag = keyof typeof MISUSE_FLAGS;
export const MISUSE_FLAG_CODES = Object.keys(MISUSE_FLAGS) as MisuseFlag[];
/** Set by the bridge on the record itself; the rest the gateway derives. */
export const RECORD_MISUSE_FLAGS: readonly MisuseFlag[] = ['fast_press', 'grade_burst', 'stray_nearby', 'repeat_case'];
