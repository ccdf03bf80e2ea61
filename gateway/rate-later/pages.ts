import { createHash } from 'node:crypto';
import { GRADES, GRADE_INFO, type Grade } from '../../protocol/grades.js';
import type { ReasonCatalog } from '../../protocol/province-config.js';
import type { ServiceView } from './receipt-case.js';
import type { OfferedCase } from './window-cases.js';
import type { WindowSignPlace } from './window-sign.js';

/*
 * The rate-later page's HTML: Chinese, phone-first, one inline style sheet (allowed by its hash
 * in the CSP), no script, no image, nothing fetched from elsewhere. A plain form: it works in any
 * phone browser with JavaScript off.
 */

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:17px/1.5 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#1f2328;background:#f3f5f8}
main{max-width:34rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.4rem 0 1rem;color:#0b4f9c}
.card{background:#fff;border-radius:.8rem;padding:1rem;margin-bottom:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
dl{margin:0;display:grid;grid-template-columns:auto 1fr;gap:.3rem .8rem}
dt{color:#59636e}
dd{margin:0;word-break:break-all}
.note{color:#59636e;font-size:.9rem;margin:.6rem 0 0}
fieldset{border:0;margin:0;padding:0}
legend{font-weight:600;margin-bottom:.6rem;padding:0}
.grade{display:block;margin:.55rem 0}
.grade input,.reason input{position:absolute;opacity:0;width:1px;height:1px}
.grade span{display:block;text-align:center;font-size:1.2rem;padding:.9rem;border:2px solid #c9d1d9;border-radius:.8rem;background:#fff}
.grade input:checked+span{border-color:#0b6bcb;background:#e7f1fc;font-weight:600}
.grade.bad input:checked+span{border-color:#c62828;background:#fdecea}
.grade input:focus-visible+span,.reason input:focus-visible+span{outline:3px solid #0b6bcb;outline-offset:2px}
.reasons{margin-top:1rem;padding:1rem;border-radius:.8rem;background:#fff7f6;border:1px solid #f3c7c2}
@supports selector(:has(a)){.reasons{display:none}form:has(.bad input:checked) .reasons{display:block}}
.reasons legend{float:left;width:100%}
.reason{display:block;clear:both;margin:.45rem 0}
.reason span{display:block;padding:.7rem .9rem;border:2px solid #e0b4ae;border-radius:.6rem;background:#fff}
.reason span::before{content:"☐ "}
.reason input:checked+span{border-color:#c62828;font-weight:600}
.reason input:checked+span::before{content:"☑ "}
button{display:block;width:100%;margin-top:1.2rem;padding:1rem;font-size:1.2rem;border:0;border-radius:.8rem;background:#0b6bcb;color:#fff}
.error{background:#fdecea;color:#8a1c1c;border-radius:.6rem;padding:.7rem .9rem;margin-bottom:1rem}
.message p{margin:.3rem 0}
.cases{list-style:none;margin:0;padding:0}
.cases a{display:block;margin:.55rem 0;padding:.8rem 1rem;border:2px solid #c9d1d9;border-radius:.8rem;background:#fff;color:inherit;text-decoration:none}
.cases b{display:block;font-size:1.1rem}
.cases span{color:#59636e;font-size:.95rem}
a.back{display:block;margin-top:1rem;text-align:center;color:#0b6bcb}
footer{color:#8c959f;font-size:.8rem;text-align:center;margin:1.5rem 0}
`;

/** The CSP's allowance for the one style sheet: its hash, so no other inline style (an injected one) applies. */
export const STYLE_HASH = `sha256-${createHash('sha256').update(CSS).digest('base64')}`;
export const CONTENT_SECURITY_POLICY = `default-src 'none'; style-src '${STYLE_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><main>${body}<footer>政务服务“好差评”</footer></main></body></html>`;
}

/** A date as people in China read it (UTC+8 all year: no summer time). */
export function chinaDate(at: Date): string {
  const local = new Date(at.getTime() + 8 * 3600_000);
  return `${local.getUTCFullYear()}年${local.getUTCMonth() + 1}月${local.getUTCDate()}日`;
}

/** A time of day as the hall's clock shows it: HH:mm, UTC+8. */
export function chinaTime(at: Date): string {
  const local = new Date(at.getTime() + 8 * 3600_000);
  return `${String(local.getUTCHours()).padStart(2, '0')}:${String(local.getUTCMinutes()).padStart(2, '0')}`;
}

/** A case number on the window's public list: only its last 4 characters (all hidden when it is that short). */
export function maskCaseNo(caseNo: string): string {
  const chars = [...caseNo];
  return `****${chars.length > 4 ? chars.slice(-4).join('') : ''}`;
}

function serviceCard(service: ServiceView): string {
  const items = service.services
    .map((s) => {
      const item = s.itemName ? `${escapeHtml(s.itemName)}${s.itemCode ? `（${escapeHtml(s.itemCode)}）` : ''}` : s.itemCode ? escapeHtml(s.itemCode) : '—';
      return `<dt>事项</dt><dd data-testid="item">${item}</dd><dt>办件编号</dt><dd data-testid="case">${escapeHtml(s.caseNo)}</dd>`;
    })
    .join('');
  const place = service.known ? `<dt>大厅</dt><dd data-testid="hall">${escapeHtml(service.hallCode ?? '')}</dd><dt>窗口</dt><dd data-testid="window">${escapeHtml(service.windowNo ?? '')}</dd>` : '';
  const note = service.known ? '' : '<p class="note" data-testid="not-synced">服务详情尚未同步，您仍可评价。</p>';
  return `<section class="card" data-testid="service"><dl>${items}${place}<dt>日期</dt><dd data-testid="date">${chinaDate(service.servedAt)}</dd></dl>${note}</section>`;
}

export interface RatingPageView {
  service: ServiceView;
  followUp: boolean;
  catalog: ReasonCatalog | undefined;
  periodDays: number;
  /** A form sent back: what was wrong, and what was chosen (kept). */
  error?: string;
  chosen?: { grade?: Grade; reasons: readonly string[] };
  /** Instead of the receipt's note on the period (the window sign's own). */
  intro?: string;
  /** A link back (the window's list). */
  backHref?: string;
}

export function ratingPage(view: RatingPageView): string {
  const chosen = view.chosen ?? { reasons: [] };
  const grades = GRADES.map((grade) => {
    const info = GRADE_INFO[grade];
    const checked = chosen.grade === grade ? ' checked' : '';
    return `<label class="grade${info.class === 'bad' ? ' bad' : ''}"><input type="radio" name="grade" value="${grade}" required${checked}><span data-testid="grade-${grade}">${info.zh}</span></label>`;
  }).join('');
  const reasons = view.catalog
    ? `<fieldset class="reasons" data-testid="reasons"><legend>请选择不满意的原因（可多选）</legend>${view.catalog.reasons
        .map((r) => `<label class="reason"><input type="checkbox" name="reason" value="${escapeHtml(r.code)}"${chosen.reasons.includes(r.code) ? ' checked' : ''}><span>${escapeHtml(r.label)}</span></label>`)
        .join('')}</fieldset>`
    : '';
  const intro = view.followUp
    ? '<p class="note" data-testid="follow-up">您已在窗口评价过本次服务，可在此追加评价（追评）。</p>'
    : `<p class="note">${escapeHtml(view.intro ?? `服务办结后 ${view.periodDays} 日内可评价，每件办件评价一次。`)}</p>`;
  const back = view.backHref === undefined ? '' : backLink(view.backHref, '不是这一件？返回列表');
  const error = view.error ? `<p class="error" role="alert" data-testid="error">${escapeHtml(view.error)}</p>` : '';
  // No action: the form posts to this very URL, the receipt's token in its query.
  return page(
    '服务评价',
    `<h1 data-testid="title">${view.followUp ? '追加评价' : '请您对本次服务进行评价'}</h1>${serviceCard(view.service)}${error}
<form method="post" class="card" data-testid="form"><fieldset><legend>您对本次服务是否满意？</legend>${grades}</fieldset>${reasons}${intro}<button type="submit" data-testid="submit">提交评价</button></form>${back}`,
  );
}

const backLink = (href: string, label: string): string => `<a class="back" href="${escapeHtml(href)}" data-testid="back">${escapeHtml(label)}</a>`;

export interface WindowCasesView {
  place: WindowSignPlace;
  cases: readonly OfferedCase[];
  recentMinutes: number;
  /** The link to one case's form. */
  hrefOf: (invitationId: string) => string;
}

/** The window sign's page: the window's recent cases not rated at the counter, masked, to tap one's own. */
export function windowCasesPage(view: WindowCasesView): string {
  const items = view.cases
    .map((c) => {
      const names = c.services.map((s) => s.itemName ?? s.itemCode ?? '办件').join('、');
      const numbers = c.services.map((s) => maskCaseNo(s.caseNo)).join('、');
      return `<li><a href="${escapeHtml(view.hrefOf(c.invitationId))}" data-testid="case-link"><b data-testid="case-item">${escapeHtml(names)}</b><span>办结 <time data-testid="case-time">${chinaTime(c.closedAt)}</time> · 办件编号 <span data-testid="case-no">${escapeHtml(numbers)}</span></span></a></li>`;
    })
    .join('');
  const list =
    view.cases.length > 0
      ? `<p>请选择您刚刚办理的服务：</p><ul class="cases" data-testid="cases">${items}</ul>`
      : `<p data-testid="no-cases">本窗口最近 ${view.recentMinutes} 分钟内没有待评价的服务。</p>`;
  return page(
    '服务评价',
    `<h1 data-testid="title">窗口服务评价</h1><section class="card" data-testid="window-sign"><dl><dt>大厅</dt><dd data-testid="hall">${escapeHtml(view.place.hallCode)}</dd><dt>窗口</dt><dd data-testid="window">${escapeHtml(view.place.windowNo)}</dd></dl></section>
<section class="card">${list}<p class="note">此处列出本窗口最近 ${view.recentMinutes} 分钟内办结、未在评价器上评价的服务。如持有办件回执，也可扫描回执上的二维码评价。</p></section>`,
  );
}

export type MessageKind = 'thanks' | 'already_rated' | 'rated_at_counter' | 'expired' | 'forged' | 'unknown' | 'test' | 'landing' | 'rate_limited' | 'bad_request' | 'cross_site' | 'unavailable' | 'not_found' | 'not_offered' | 'window_expired';

const MESSAGES: Record<MessageKind, { title: string; lines: string[] }> = {
  thanks: { title: '感谢您的评价', lines: ['您的评价已提交。', '感谢您对政务服务工作的支持。'] },
  already_rated: { title: '本次服务已评价', lines: ['每件办件只能在此评价一次，本次服务的评价已经提交。'] },
  rated_at_counter: { title: '本次服务已评价', lines: ['您已在窗口评价器上对本次服务作出评价，无需再次评价。'] },
  expired: { title: '评价已过期', lines: ['本次服务的评价期限已过，无法再评价。'] },
  forged: { title: '无法验证此回执', lines: ['二维码内容不完整，或已被改动。', '请扫描办件回执上打印的原始二维码；如有疑问，请咨询窗口工作人员。'] },
  unknown: { title: '未找到此回执', lines: ['此二维码不是本大厅评价终端开具的回执。', '如有疑问，请咨询窗口工作人员。'] },
  test: { title: '测试回执', lines: ['这是评价终端自检时打印的测试回执，不能用于评价。'] },
  landing: { title: '服务评价', lines: ['请扫描办件回执上的二维码，对您办理的服务进行评价。'] },
  rate_limited: { title: '操作过于频繁', lines: ['请稍后再试。'] },
  bad_request: { title: '无法处理此请求', lines: ['请返回上一页重新提交。'] },
  cross_site: { title: '无法提交', lines: ['评价只能在本页面提交。请重新扫描办件回执上的二维码。'] },
  unavailable: { title: '暂时无法评价', lines: ['系统繁忙，请稍后再试。'] },
  not_found: { title: '页面不存在', lines: ['请扫描办件回执上的二维码进行评价。'] },
  not_offered: { title: '无法评价此服务', lines: ['此服务不在本窗口的待评价列表中。', '请返回列表选择您办理的服务，或扫描办件回执上的二维码。'] },
  window_expired: { title: '已超过窗口评价时间', lines: ['窗口二维码只能评价刚刚办结的服务。', '如持有办件回执，请扫描回执上的二维码评价。'] },
};

export function messagePage(kind: MessageKind, extra?: string, backHref?: string): string {
  const { title, lines } = MESSAGES[kind];
  const more = extra ? `<p>${escapeHtml(extra)}</p>` : '';
  const back = backHref === undefined ? '' : backLink(backHref, '返回本窗口的服务列表');
  return page(title, `<section class="card message" data-testid="message-${kind}"><h1 data-testid="title">${title}</h1>${lines.map((l) => `<p>${l}</p>`).join('')}${more}${back}</section>`);
}
