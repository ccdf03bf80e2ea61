import type { StaffStars } from '../../protocol/province-config.js';
import type { Logger } from '../log.js';
import type { Settings } from '../store/settings.js';
import { ProvinceConfigPart } from './config-part.js';

/** One staff member's stars as the customer screen shows them. */
export type StaffMemberStars = StaffStars['staff'][number];

/**
 * The stars of the staff of this window's hall, as the gateway's retained config last sent them
 * (made from its statistics: protocol/province-config.ts staffStars, docs/statistics.md). Kept as
 * sent; the customer screen's staff card reads them. A staff member not listed has too few
 * ratings to show (or none yet).
 */
export class StaffStarsStore extends ProvinceConfigPart<'staffStars'> {
  constructor(settings: Settings, logger: Logger) {
    super(settings, logger, 'staffStars', (stars) => ({ asOf: stars.asOf, staff: stars.staff.length }));
  }

  /** This staff member's stars (1 to 5 in halves) and how many ratings made them; null: none to show. */
  starsOf(staffId: string): StaffMemberStars | null {
    return this.current()?.staff.find((member) => member.staffId === staffId) ?? null;
  }
}
