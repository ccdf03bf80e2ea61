import type { StaffRoster } from '../../protocol/province-config.js';
import type { Refusal } from '../../protocol/refusals.js';
import { DEFAULT_PIN_COST, pinMatches } from '../province/staff-pin.js';
import { FailureLimiter } from './failure-limiter.js';

export const SIGN_IN_LIMIT = { maxFailures: 5, windowMs: 5 * 60_000, maxKeys: 5000 } as const;

/** How this window checks who signs in; status shows it. */
export type StaffVerification = 'roster' | 'unverified_allowed' | 'refused_until_roster';

export interface StaffSignInOptions {
  /** The province's roster as last sent (bridge/province/staff-roster.ts), or null before one came. */
  roster(): StaffRoster | null;
  /** http.allowUnverifiedStaff: the technician let a hall run before the province sends a roster. */
  allowUnverified: boolean;
  /** Monotonic milliseconds, for the failure window. */
  now(): number;
  /** Checks a PIN against its hash (default: scrypt, bridge/province/staff-pin.ts). */
  checkPin?: typeof pinMatches;
}

export type SignInVerdict = { ok: true } | { ok: false; code: Refusal; message: string; field?: string };

/** The hash a PIN is checked against when the staff id is not on the roster: the answer takes as long, and is no. */
const NOBODY = { kdf: 'scrypt', ...DEFAULT_PIN_COST, salt: Buffer.alloc(16).toString('base64'), hash: Buffer.alloc(32).toString('base64') } as const;

/**
 * Whether a staff member may sign in: by their PIN against the province's roster, or vouched for by
 * the business system's token. Wrong PINs are limited per staff id (5 per 5 minutes); the PIN is
 * never kept or logged.
 */
export class StaffSignIn {
  private readonly limiter: FailureLimiter;
  private failed = 0;
  /**
   * PINs are hashed one at a time: the limiter counts per staff id, so a flood of made-up ids
   * would otherwise run scrypt (up to ~200 MB each at the roster's highest cost) side by side.
   */
  private hashing: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: StaffSignInOptions) {
    this.limiter = new FailureLimiter(SIGN_IN_LIMIT, opts.now);
  }

  get verification(): StaffVerification {
    if (this.opts.roster()) return 'roster';
    return this.opts.allowUnverified ? 'unverified_allowed' : 'refused_until_roster';
  }

  /** Sign-ins refused for a wrong PIN or an unknown id since the bridge started. */
  get failures(): number {
    return this.failed;
  }

  async verify(staffId: string, pin: string | undefined, vouched: boolean): Promise<SignInVerdict> {
    if (vouched) return { ok: true };
    const roster = this.opts.roster();
    if (!roster) {
      if (this.opts.allowUnverified) return { ok: true };
      return {
        ok: false,
        code: 'no_staff_roster',
        message: "no staff roster from the province yet: sign-in is refused until it arrives (or the business system signs staff in with its token; a technician may set http.allowUnverifiedStaff)",
      };
    }
    const retryMs = this.limiter.retryAfterMs(staffId);
    if (retryMs > 0) {
      return { ok: false, code: 'sign_in_locked', message: `too many failed sign-ins for ${staffId}: try again in ${Math.ceil(retryMs / 60_000)} min` };
    }
    if (pin === undefined) return { ok: false, code: 'invalid_request', message: 'pin: required: this window checks staff by the PIN on the province\'s roster', field: 'pin' };
    const member = roster.staff.find((m) => m.staffId === staffId);
    // Counted as failed before the hash, forgotten if it matches: parallel guesses all count.
    this.limiter.fail(staffId);
    const hash = member?.pin ?? { ...NOBODY, ...(roster.staff[0] && pick(roster.staff[0].pin)) };
    const check = this.opts.checkPin ?? pinMatches;
    const matches = this.hashing.then(() => check(pin, hash));
    this.hashing = matches.catch(() => undefined);
    if (!(await matches) || !member) {
      this.failed += 1;
      return { ok: false, code: 'staff_not_verified', message: `staff ${staffId}: the id is not on the roster or the PIN is wrong` };
    }
    this.limiter.forget(staffId);
    return { ok: true };
  }
}

/** A roster member's cost parameters, so that an unknown id costs what a known one does. */
function pick(pin: StaffRoster['staff'][number]['pin']): { N: number; r: number; p: number } {
  return { N: pin.N, r: pin.r, p: pin.p };
}
