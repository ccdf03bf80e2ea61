import { z } from 'zod';

/**
 * Why staff cancelled an invitation: required on every cancel, kept on the record and counted per
 * staff member and day, so that cancelling cannot quietly replace a citizen's rating. One list,
 * with the words staff read; the console takes them from the server (`GET /api/v1/meta`).
 */
export const CANCEL_REASONS = {
  citizen_left: '群众已离开',
  wrong_case: '办件信息填错',
  duplicate_invitation: '重复发起邀请',
  service_not_finished: '业务未办结',
  citizen_declined: '群众明确不愿评价',
  device_fault: '评价器故障',
} as const;

export type CancelReason = keyof typeof CANCEL_REASONS;
export const cancelReasonSchema = z.enum(Object.keys(CANCEL_REASONS) as [CancelReason, ...CancelReason[]], {
  error: `cancel reason: one of ${Object.keys(CANCEL_REASONS).join(', ')}`,
});
