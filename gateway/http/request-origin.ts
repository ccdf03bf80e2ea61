import type { IncomingMessage } from 'node:http';

/*
 * Where a request to one of the gateway's pages came from: the client's address (for rate limits)
 * and whether a browser says another site's page sent it (the CSRF rule of every POST). Shared by
 * the rate-later page and the dashboard.
 */

/** The client's address: the socket's, or behind a trusted proxy the last X-Forwarded-For entry (the one the proxy added). */
export function clientAddress(req: Pick<IncomingMessage, 'headers' | 'socket'>, trustForwardedFor: boolean): string {
  const forwarded = trustForwardedFor ? req.headers['x-forwarded-for'] : undefined;
  const last = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',').pop()?.trim();
  return (last || req.socket.remoteAddress) ?? 'unknown';
}

/**
 * Why a browser says another site's page sent this request, or undefined. Sec-Fetch-Site is what
 * browsers set and pages cannot, and decides when present; Origin where it is missing (an older
 * browser). Origin "null" is what a page under a no-referrer policy sends for its own POSTs, so it
 * is no evidence either way. A script sends neither: it holds its own credentials.
 */
export function crossSiteReason(req: Pick<IncomingMessage, 'headers'>, publicUrl: string | undefined): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none' ? undefined : `sec-fetch-site: ${String(site).slice(0, 40)}, expected same-origin`;
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return undefined;
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return `origin: ${origin.slice(0, 100)} is not an origin`;
  }
  const allowed = [req.headers.host?.toLowerCase(), publicUrl === undefined ? undefined : new URL(publicUrl).host.toLowerCase()];
  return allowed.includes(host) ? undefined : `origin: ${origin.slice(0, 100)} is not this site`;
}
