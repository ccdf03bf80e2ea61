import { GRADE_INFO, gradeSchema, type Grade } from '../../protocol/grades.js';

/*
 * An alert's kinds and its `detail` as every reader sees it (the dashboard, the messages). The
 * column is written by the triggers and the fault scan from what terminals sent: read tolerantly,
 * a field that is not what it should be is null, never a throw.
 */

export const ALERT_KINDS = ['bad_review', 'terminal_offline', 'backlog_old', 'clock_unsynced', 'paper_out'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export const FAULT_KINDS = ['terminal_offline', 'backlog_old', 'clock_unsynced', 'paper_out'] as const satisfies readonly AlertKind[];
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The words a duty manager reads. */
export const ALERT_KIND_NAMES: Record<AlertKind, string> = {
  bad_review: '差评',
  terminal_offline: '评价器离线',
  backlog_old: '记录积压未上传',
  clock_unsynced: '评价器时钟未校准',
  paper_out: '回执打印机缺纸',
};

/** A bad review's follow-up as the hall records it. */
export const FOLLOW_UP_STATUSES = ['open', 'called_back', 'appealed', 'rectifying', 'rectified', 'closed'] as const;
export type FollowUpStatus = (typeof FOLLOW_UP_STATUSES)[number];
export const FOLLOW_UP_NAMES: Record<FollowUpStatus, string> = {
  open: '待回访',
  called_back: '已回访',
  appealed: '已申诉',
  rectifying: '整改中',
  rectified: '已整改',
  closed: '已办结',
};

/** Where a rating came from, in Chinese. */
const CHANNEL_NAMES: Record<string, string> = { counter: '窗口评价器', screen: '窗口评价屏', receipt_qr: '回执二维码', window_sign: '窗口评价码' };

export interface AlertDetail {
  /** Bad review. */
  grade: Grade | null;
  gradeZh: string | null;
  /** Reason codes as stored (the catalogue's codes), at most 10. */
  reasons: string[];
  channel: string | null;
  channelZh: string | null;
  /** Misuse flags the record carries (fast_press …). */
  flags: string[];
  /** Faults: what the scan saw. */
  pending: number | null;
  oldestPendingHours: number | null;
  printerCondition: string | null;
}

const MAX_TEXT = 64;

export function readAlertDetail(detail: unknown): AlertDetail {
  const d = isObject(detail) ? detail : {};
  const grade = gradeSchema.safeParse(d.grade);
  const via = shortText(d.via);
  const channel = via === 'window_sign' ? via : shortText(d.channel);
  return {
    grade: grade.success ? grade.data : null,
    gradeZh: grade.success ? GRADE_INFO[grade.data].zh : null,
    reasons: textList(d.reasons),
    channel,
    channelZh: channel === null ? null : (CHANNEL_NAMES[channel] ?? null),
    flags: textList(d.flags),
    pending: count(d.pending),
    oldestPendingHours: typeof d.oldestPendingHours === 'number' && Number.isFinite(d.oldestPendingHours) && d.oldestPendingHours >= 0 ? d.oldestPendingHours : null,
    printerCondition: shortText(d.printerCondition),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shortText(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, MAX_TEXT) : null;
}

function textList(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === 'string' && v.length > 0).slice(0, 10).map((v) => v.slice(0, MAX_TEXT));
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null;
}
