import type { IncomingMessage } from 'node:http';

/*
 * Where a dashboard request carries its session token: the browser's cookie (HttpOnly: no script,
 * not even the dashboard's own, can read it; SameSite=Strict: no other site's page makes the
 * browser send it), or `Authorization: Bearer <token>` for a script that signed in with
 * POST /api/login. Over HTTPS the cookie is also Secure and named with the `__Host-` prefix, which
 * browsers accept only from a secure origin, for the whole host, set by the host itself.
 */

export interface CookieSettings {
  /** The cookie's name: `__Host-hcp-dashboard` over HTTPS, `hcp-dashboard` otherwise. */
  name: string;
  secure: boolean;
}

/** The cookie's settings for the dashboard's public address (dashboard.publicUrl). */
export function cookieSettings(publicUrl: string | undefined): CookieSettings {
  const secure = publicUrl !== undefined && new URL(publicUrl).protocol === 'https:';
  return { name: secure ? '__Host-hcp-dashboard' : 'hcp-dashboard', secure };
}

/** What a token looks like (32 random bytes, base64url): anything else is not read, not looked up. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The session token a request carries, bearer first; undefined when it carries none that could be
 * one. A cookie given twice (one planted by a sibling subdomain beside the real one) is refused as
 * ambiguous rather than one chosen.
 */
export function tokenOf(req: Pick<IncomingMessage, 'headers'>, cookie: CookieSettings): string | undefined {
  // Only a Bearer scheme speaks for the session: a hall proxy's Basic credentials leave the cookie to do it.
  const authorization = req.headers.authorization;
  if (authorization !== undefined && /^Bearer\s/i.test(authorization)) {
    const bearer = /^Bearer ([^\s]+)$/i.exec(authorization)?.[1];
    return bearer !== undefined && TOKEN_SHAPE.test(bearer) ? bearer : undefined;
  }
  const values = cookieValues(req.headers.cookie ?? '', cookie.name);
  return values.length === 1 && TOKEN_SHAPE.test(values[0]!) ? values[0] : undefined;
}

function cookieValues(header: string, name: string): string[] {
  const out: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    out.push(part.slice(eq + 1).trim());
  }
  return out;
}

/** The Set-Cookie that opens a session; it ends with the session (Max-Age) or at logout. */
export function sessionCookie(cookie: CookieSettings, token: string, expiresAt: Date, now: Date): string {
  const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));
  return `${cookie.name}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${cookie.secure ? '; Secure' : ''}`;
}

/** The Set-Cookie that removes it. */
export function clearedCookie(cookie: CookieSettings): string {
  return `${cookie.name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${cookie.secure ? '; Secure' : ''}`;
}
