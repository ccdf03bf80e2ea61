import type { IncomingMessage } from 'node:http';
import { DashboardRefusal } from './answers.js';

/*
 * The dashboard's CSRF rule, for every POST (a GET changes nothing): the body is JSON (answers.ts
 * readJsonBody: a form on another site cannot send it), and what the browser says of where the
 * request came from names this dashboard. Sec-Fetch-Site is set by the browser and no page can
 * forge it; Origin where it is missing (older browsers). A script (curl, bearer token) sends
 * neither and is let through: it holds the token itself, no page acts for it. The cookie's
 * SameSite=Strict is a third guard, in the browser.
 */
export function checkSameOrigin(req: Pick<IncomingMessage, 'headers'>, publicOrigin: string | undefined): void {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new DashboardRefusal('cross_site', '拒绝来自其他网站页面的请求', [`sec-fetch-site: ${String(site).slice(0, 40)}, expected same-origin`]);
  }
  const origin = req.headers.origin;
  if (origin === undefined) return;
  const host = req.headers.host?.toLowerCase();
  const allowed = [host && `http://${host}`, host && `https://${host}`, publicOrigin?.toLowerCase()];
  if (!allowed.includes(origin.toLowerCase())) {
    throw new DashboardRefusal('cross_site', '拒绝来自其他网站页面的请求', [`origin: ${origin.slice(0, 100)} is not this dashboard`]);
  }
}
