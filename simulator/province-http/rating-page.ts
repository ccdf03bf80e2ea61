import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatProvinceTime } from '../../gateway/province/time-format.js';
import { GRADE_INFO, GRADES, gradeCode, gradeSchema } from '../../protocol/grades.js';
import { escapeHtml } from '../../gateway/rate-later/pages.js';
import { applyEvaluation, type GradeDirection } from './rules.js';
import type { ProvinceLedger } from './state.js';
import { evaluationBodySchema } from './wire.js';

/**
 * The province's own rating page, for a profile with `rateLater.mode: province`: the receipt QR's
 * URL (the profile's urlTemplate, e.g. `<url>/pj/index.html?projectNo={caseNo}&…`) opens a
 * minimal page with the five grades and a text box; a rating sent from it is kept as an
 * evaluation with pf 3 (二维码), under the same rules as a pushed one (a bad grade needs a reason;
 * the service must be known), as assessNumber 2 (追评) when the case was rated already.
 */

export const RATING_PAGE_PATH = '/pj/index.html';
/** The appMark the page's ratings are kept under (they come from no caller). */
export const RATING_PAGE_APP_MARK = 'province-page';
const MAX_FORM_BYTES = 8 * 1024;

export interface RatingPageDeps {
  ledger: ProvinceLedger;
  direction: GradeDirection;
  /** The data source the province writes for its own page. */
  dataSource: string;
  now: () => Date;
}

/** A profile's urlTemplate that leads to this page on an emulator at `url`. */
export const ratingPageTemplate = (url: string): string => `${url}${RATING_PAGE_PATH}?projectNo={caseNo}&areaCode={areaCode}&taskCode={taskCode}`;

export async function serveRatingPage(req: IncomingMessage, res: ServerResponse, query: string, deps: RatingPageDeps): Promise<void> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    const projectNo = new URLSearchParams(query).get('projectNo') ?? '';
    if (!validProjectNo(projectNo)) return page(res, 400, '链接无效', '<p>链接缺少办件编号。</p>');
    return page(res, 200, '办件评价', form(projectNo, deps.ledger.service(projectNo)?.body.taskCode));
  }
  if (req.method !== 'POST') return page(res, 405, '请求方法不支持', '');
  let size = 0;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_FORM_BYTES * 64) throw new Error('far past the limit: not worth draining');
      if (size <= MAX_FORM_BYTES) chunks.push(chunk as Buffer);
    }
  } catch {
    // The citizen's browser went away mid-form, or it is no browser: nothing to answer.
    req.socket.destroy();
    return;
  }
  if (size > MAX_FORM_BYTES) return page(res, 413, '内容过长', '<p>评价内容过长。</p>');
  const fields = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const projectNo = fields.get('projectNo') ?? '';
  const grade = gradeSchema.safeParse(fields.get('grade'));
  if (!validProjectNo(projectNo)) return page(res, 400, '链接无效', '<p>缺少办件编号。</p>');
  if (!grade.success) return page(res, 400, '请选择评价', form(projectNo, undefined, '请选择一个评价等级。'));
  const at = deps.now();
  const assessNumber = deps.ledger.hasEvaluation(projectNo, 1) ? 2 : 1;
  const body = evaluationBodySchema.safeParse({
    projectNo,
    satisfaction: gradeCode(grade.data, deps.direction === 'five_is_best' ? 'provincial-5-high' : 'gbt-39046'),
    evalDetail: '',
    writingEvaluation: (fields.get('text') ?? '').slice(0, 500),
    assessTime: formatProvinceTime(at, 'yyyy-MM-dd HH:mm:ss'),
    assessNumber,
    pf: 3,
    dataSource: deps.dataSource,
  });
  if (!body.success) return page(res, 400, '评价无效', '<p>评价内容无效。</p>');
  const outcome = applyEvaluation(deps.ledger, body.data, RATING_PAGE_APP_MARK, at, deps.direction);
  if (outcome.kind === 'accepted') {
    deps.ledger.stats.pageRatings += 1;
    return page(res, 200, '感谢您的评价', `<p>感谢您的评价${assessNumber === 2 ? '（追评）' : ''}。</p>`);
  }
  if (outcome.kind === 'duplicate') return page(res, 409, '已评价', '<p>本次服务已存在评价。</p>');
  if (outcome.reason === 'bad_grade_without_reason') return page(res, 400, '请填写原因', form(projectNo, undefined, '不满意的评价请填写原因。'));
  return page(res, 404, '办件不存在', '<p>未找到该办件，请稍后再试。</p>');
}

const validProjectNo = (projectNo: string) => projectNo.trim() !== '' && projectNo.length <= 64;

function form(projectNo: string, taskCode: string | undefined, problem?: string): string {
  const grades = GRADES.map((g, i) => `<label><input type="radio" name="grade" value="${g}"${i === 0 ? ' required' : ''}> ${GRADE_INFO[g].zh}</label>`).join('\n');
  return `${problem ? `<p class="problem">${escapeHtml(problem)}</p>` : ''}
<p>办件编号：${escapeHtml(projectNo)}${taskCode ? `<br>事项编码：${escapeHtml(taskCode)}` : ''}</p>
<form method="post">
<input type="hidden" name="projectNo" value="${escapeHtml(projectNo)}">
${grades}
<p><textarea name="text" maxlength="500" placeholder="评价内容（不满意时必填）"></textarea></p>
<button type="submit">提交评价</button>
</form>`;
}

function page(res: ServerResponse, status: number, title: string, content: string): void {
  const html = `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body><h1>${title}</h1>${content}</body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; form-action 'self'" });
  res.end(html);
}
