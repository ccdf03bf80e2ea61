import { createHash, randomBytes, randomInt } from 'node:crypto';
import { z } from 'zod';
import { explain } from '../../protocol/issues.js';
import { PAIRING_CODE_DIGITS } from '../../protocol/screen-api.js';
import { sameSecret } from '../http/request-guard.js';
import type { Db } from '../store/database.js';
import { Settings } from '../store/settings.js';

/*
 * Which tablets may rate on the customer screen from the window's LAN (the Pi's own kiosk, on
 * loopback, needs no pairing). A technician runs `hcp screen pair` on the Pi: it shows a one-time
 * code of PAIRING_CODE_DIGITS digits, valid PAIRING_CODE_MS; the tablet's page takes it and gets a
 * random token in an HttpOnly cookie, of which the bridge keeps only the hash. Kept in the
 * bridge's database (settings), so that the command works beside the running service; revoked
 * one by one or all. The code and the token are never logged, nor put on a command line.
 */

export const PAIRING_CODE_MS = 5 * 60_000;
/** Wrong codes before the code is void: with a million codes, five guesses are 1 in 200,000. */
export const PAIRING_CODE_TRIES = 5;
/** Tablets paired at once: more is a mistake (each window has one or two screens). */
export const MAX_PAIRED_SCREENS = 20;
/** The cookie a paired tablet sends. */
export const SCREEN_COOKIE = 'hcp_screen';

const KEY = 'screen.pairing';
const hashSchema = z.string().regex(/^[0-9a-f]{64}$/);
const pairingStateSchema = z.strictObject({
  code: z.strictObject({ hash: hashSchema, expiresAt: z.iso.datetime(), triesLeft: z.number().int().min(0) }).nullable(),
  screens: z.array(z.strictObject({ id: z.string().regex(/^[0-9a-f]{8}$/), hash: hashSchema, pairedAt: z.iso.datetime() })).max(MAX_PAIRED_SCREENS),
});
type PairingState = z.infer<typeof pairingStateSchema>;

export interface PairedScreen {
  id: string;
  pairedAt: string;
}

export type Redeemed = { ok: true; token: string; screen: PairedScreen } | { ok: false; message: string };

export interface ScreenPairingOptions {
  settings: Pick<Settings, 'get' | 'set'>;
  /** One commit for a read and its write (the CLI and the service share the database). */
  transaction<T>(fn: () => T): T;
  now(): Date;
}

const digest = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export class ScreenPairing {
  constructor(private readonly opts: ScreenPairingOptions) {}

  /** A new one-time code (any earlier one is void); the caller shows it to the technician, nowhere else. */
  offer(): { code: string; expiresAt: Date } {
    const code = String(randomInt(0, 10 ** PAIRING_CODE_DIGITS)).padStart(PAIRING_CODE_DIGITS, '0');
    const expiresAt = new Date(this.opts.now().getTime() + PAIRING_CODE_MS);
    this.change((state) => ({ ...state, code: { hash: digest(code), expiresAt: expiresAt.toISOString(), triesLeft: PAIRING_CODE_TRIES } }));
    return { code, expiresAt };
  }

  /** A tablet gives the code: a new token when it is the pending one, in time; each wrong try uses one up. */
  redeem(code: string): Redeemed {
    return this.change((state): [PairingState, Redeemed] => {
      const pending = state.code;
      if (!pending || pending.triesLeft === 0 || Date.parse(pending.expiresAt) <= this.opts.now().getTime()) {
        return [{ ...state, code: null }, { ok: false, message: 'no pairing code is waiting (none made, used, expired or tried too often): run hcp screen pair on the Pi for a new one' }];
      }
      if (!sameSecret(digest(code), pending.hash)) {
        const triesLeft = pending.triesLeft - 1;
        return [{ ...state, code: triesLeft === 0 ? null : { ...pending, triesLeft } }, { ok: false, message: triesLeft === 0 ? 'wrong pairing code; it is now void: run hcp screen pair for a new one' : `wrong pairing code: ${triesLeft} tries left` }];
      }
      const token = randomBytes(32).toString('base64url');
      const screen = { id: randomBytes(4).toString('hex'), pairedAt: this.opts.now().toISOString() };
      // The oldest pairing gives way when the list is full: a tablet replaced is paired again, never refused.
      const screens = [...state.screens, { ...screen, hash: digest(token) }].slice(-MAX_PAIRED_SCREENS);
      return [{ code: null, screens }, { ok: true, token, screen }];
    });
  }

  /** Whether a cookie's token is a paired tablet's. */
  isPaired(token: string | undefined): boolean {
    if (token === undefined || token.length > 100) return false;
    const hash = digest(token);
    // Every entry compared, in constant time each: the answer takes as long for any token.
    return this.read().screens.reduce((found, screen) => sameSecret(hash, screen.hash) || found, false);
  }

  screens(): PairedScreen[] {
    return this.read().screens.map(({ id, pairedAt }) => ({ id, pairedAt }));
  }

  /** Unpairs one tablet by its id, or every one ('all'); returns how many. */
  revoke(id: string): number {
    return this.change((state): [PairingState, number] => {
      const screens = id === 'all' ? [] : state.screens.filter((screen) => screen.id !== id);
      return [{ ...state, screens }, state.screens.length - screens.length];
    });
  }

  private read(): PairingState {
    const text = this.opts.settings.get(KEY);
    if (text === undefined) return { code: null, screens: [] };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    const parsed = explain(pairingStateSchema, value);
    // A row edited by hand pairs nothing: the tablets are paired again.
    return parsed.ok ? parsed.data : { code: null, screens: [] };
  }

  private change<T>(fn: (state: PairingState) => PairingState | [PairingState, T]): T {
    return this.opts.transaction(() => {
      const result = fn(this.read());
      const [state, answer] = Array.isArray(result) ? result : [result, undefined as T];
      this.opts.settings.set(KEY, JSON.stringify(state));
      return answer;
    });
  }
}

/**
 * The pairings in a database opened by another process than the service (`hcp screen pair`):
 * each read and its write in one immediate transaction, so that the two never interleave.
 */
export function pairingsIn(db: Db, now: () => Date = () => new Date()): ScreenPairing {
  return new ScreenPairing({ settings: new Settings(db), transaction: (fn) => db.transaction(fn).immediate(), now });
}

/** The screen cookie's token from a Cookie header, if any. */
export function screenToken(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SCREEN_COOKIE) return value.join('=');
  }
  return undefined;
}
