import type { IncomingMessage } from 'node:http';
import { crossSiteReason } from '../http/request-origin.js';
import { DashboardRefusal } from './answers.js';

/*
 * The dashboard's CSRF rule, for every POST (a GET changes nothing): the body is JSON (answers.ts
 * readJsonBody: a form on another site cannot send it), and what the browser says of where the
 * request came from names this dashboard (gateway/http/request-origin.ts). A script (curl,
 * bearer token) sends neither header and is let through: it holds the token itself, no page acts
 * for it. The cookie's SameSite=Strict is a third guard, in the browser.
 */
export function checkSameOrigin(req: Pick<IncomingMessage, 'headers'>, publicUrl: string | undefined): void {
  const reason = crossSiteReason(req, publicUrl);
  if (reason !== undefined) throw new DashboardRefusal('cross_site', '拒绝来自其他网站页面的请求', [reason]);
}
