import { ALERT_KIND_NAMES, readAlertDetail, type AlertKind } from './detail.js';

/*
 * What an alert says, once, for every channel: Chinese, and nothing personal (DOMAIN: the case
 * number links a rating to the person at the province; staff are named on the dashboard, to those
 * allowed to see it, never in a group chat). Hall, window, grade, reasons, time and a link.
 *
 * Every value that came from a terminal or the database is made inert before it enters the
 * markdown: a hall code or reason of `**[点此](http://evil)**` or `<font>` must be shown as text,
 * never as a link, tag or heading in the duty managers' group.
 */

export interface MessageAlert {
  id: string;
  kind: AlertKind;
  terminalId: string | null;
  areaCode: string;
  hallCode: string;
  windowNo: string | null;
  detail: unknown;
  occurredAt: Date;
  /** Sends so far: 0 for the first. */
  notifyCount: number;
}

export interface MessageOptions {
  timeZone: string;
  /** dashboard.publicUrl: the message links to the alert there. */
  dashboardUrl?: string | undefined;
  /** A reason code's label from the province's catalogue (R02 → 办事效率低), when known. */
  reasonLabel?: ((code: string) => string | undefined) | undefined;
}

export interface AlertMessage {
  /** One line: DingTalk's notification title, the webhook's `title`. */
  title: string;
  /** WeCom's and DingTalk's markdown. */
  markdown: string;
  /** The same, plain. */
  text: string;
  link: string | null;
}

/** Characters that mean something in WeCom's or DingTalk's markdown (or HTML), and their full-width look-alikes. */
const MARKDOWN_ACTIVE: Record<string, string> = {
  '\\': '＼',
  '`': '｀',
  '*': '＊',
  _: '＿',
  '[': '［',
  ']': '］',
  '(': '（',
  ')': '）',
  '<': '＜',
  '>': '＞',
  '!': '！',
  '|': '｜',
  '~': '～',
  '#': '＃',
  '&': '＆',
  '"': '＂',
};
const ACTIVE = /[\\`*_[\]()<>!|~#&"]/g;
/** Line breaks, controls, bidi overrides and zero-width marks: a value stays one visible line. */
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A value as inert markdown text on one line, at most `max` characters. */
export function escapeMarkdown(value: string, max = 64): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return cut.replace(LONE_SURROGATE, '\ufffd').replace(INVISIBLE, ' ').replace(ACTIVE, (c) => MARKDOWN_ACTIVE[c] ?? ' ');
}

/** A value as plain text on one line (the webhook's `text`, the title). */
function plain(value: string, max = 64): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return cut.replace(LONE_SURROGATE, '\ufffd').replace(INVISIBLE, ' ');
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();

/** "2026-11-30 10:15" in the hall's zone. */
export function localTime(at: Date, timeZone: string): string {
  let format = timeFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    timeFormats.set(timeZone, format);
  }
  if (!Number.isFinite(at.getTime())) return '时间未知';
  const p = Object.fromEntries(format.formatToParts(at).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** The dashboard's alerts view (its page shows views by hash: `#alerts`), naming the alert in the query. */
export function alertLink(dashboardUrl: string | undefined, id: string): string | null {
  if (!dashboardUrl) return null;
  try {
    const url = new URL(`${dashboardUrl.replace(/\/+$/, '')}/`);
    url.search = '';
    url.hash = 'alerts';
    url.searchParams.set('alert', id);
    return url.href.replace(/\(/g, '%28').replace(/\)/g, '%29');
  } catch {
    return null;
  }
}

/** The facts, label by label, before they are written as markdown or text. */
function facts(alert: MessageAlert, options: MessageOptions): { heading: string; title: string; lines: [label: string, value: string][] } {
  const d = readAlertDetail(alert.detail);
  const kindZh = ALERT_KIND_NAMES[alert.kind] ?? '提醒';
  const window = alert.windowNo === null ? null : `${alert.windowNo}号窗口`;
  const place = `${alert.hallCode}${window === null ? '' : ` ${window}`}`;
  const lines: [string, string][] = [['大厅', alert.hallCode]];
  if (window !== null) lines.push(['窗口', window]);
  if (alert.kind === 'bad_review') {
    lines.push(['评价', d.gradeZh ?? '差评']);
    const reasons = d.reasons.map((code) => options.reasonLabel?.(code) ?? code);
    lines.push(['原因', reasons.length > 0 ? reasons.join('、') : '未选择原因']);
    if (d.channelZh !== null) lines.push(['来源', d.channelZh]);
    lines.push(['评价时间', localTime(alert.occurredAt, options.timeZone)]);
  } else {
    if (alert.terminalId !== null) lines.push(['评价器', alert.terminalId]);
    if (alert.kind === 'backlog_old' && d.pending !== null) lines.push(['积压', `${d.pending}条${d.oldestPendingHours === null ? '' : `，最早的已${Math.floor(d.oldestPendingHours)}小时`}`]);
    lines.push(['开始时间', localTime(alert.occurredAt, options.timeZone)]);
  }
  const heading = `${kindZh}提醒${alert.notifyCount > 0 ? `（第${alert.notifyCount + 1}次，尚未确认）` : ''}`;
  const title = `${heading}：${place}${alert.kind === 'bad_review' && d.gradeZh ? ` ${d.gradeZh}` : ''}`;
  return { heading, title, lines };
}

export function alertMessage(alert: MessageAlert, options: MessageOptions): AlertMessage {
  const { heading, title, lines } = facts(alert, options);
  const link = alertLink(options.dashboardUrl, alert.id);
  const markdown = [`### ${escapeMarkdown(heading, 80)}`, ...lines.map(([label, value]) => `- ${label}：${escapeMarkdown(value, label === '原因' ? 200 : 64)}`)];
  const text = [plain(heading, 80), ...lines.map(([label, value]) => `${label}：${plain(value, label === '原因' ? 200 : 64)}`)];
  if (link !== null) {
    markdown.push(`[在看板中查看并确认](${link})`);
    text.push(`在看板中查看并确认：${link}`);
  }
  return { title: plain(title, 120), markdown: markdown.join('\n'), text: text.join('\n'), link };
}
