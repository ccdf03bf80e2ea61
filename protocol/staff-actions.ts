import { z } from 'zod';

/**
 * What staff, technicians and remote operators do that the audit keeps (ARCHITECTURE invariant 7):
 * each is appended to the bridge's audit table and sent upstream as a `staff_action` event.
 */
export const STAFF_ACTIONS = {
  sign_in: '签到',
  sign_out: '签退',
  invite: '邀请评价',
  cancel: '取消邀请',
  reprint: '补打回执',
  test_invite: '测试邀请',
  selftest: '自检',
  remote_command: '远程命令',
  config_change: '配置变更',
  pairing: '评价器配对',
  pause: '暂停服务',
  resume: '恢复服务',
} as const;

export type StaffAction = keyof typeof STAFF_ACTIONS;
export const staffActionSchema = z.enum(Object.keys(STAFF_ACTIONS) as [StaffAction, ...StaffAction[]]);

/** One staff action as the bridge announces it (`staffAction` on its events) and the audit keeps it. */
export interface StaffActionEntry {
  action: StaffAction;
  /** Who: the signed-in staff member, the technician's or operator's name, or null if nobody is known. */
  actor: string | null;
  /** The invitation, command or setting it concerns, and the like: never a grade. */
  detail: Record<string, string | number | boolean | null>;
}
