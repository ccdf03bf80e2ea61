import { z } from 'zod';
import { staffIdSchema } from '../../protocol/http-api.js';
import { explain } from '../../protocol/issues.js';
import type { StaffRoster } from '../../protocol/province-config.js';
import { staffNameSchema, staffPhotoSchema } from '../../protocol/staff-photo.js';
import type { Settings } from '../store/settings.js';
import type { StaffCard } from './screen-state.js';

const KEY = 'staff.businessCard';
const vouchedSchema = z.strictObject({ staffId: staffIdSchema, name: staffNameSchema.optional(), photo: staffPhotoSchema.optional() });

export interface StaffCardsOptions {
  settings: Pick<Settings, 'get' | 'set'>;
  /** The province's roster as last sent (bridge/province/staff-roster.ts). */
  roster(): StaffRoster | null;
  /** The staff member's stars from the gateway's statistics, when it sent them. */
  stars?(staffId: string): number | null;
}

/**
 * The staff card the customer screen shows: the name, title and photo from the business system's
 * sign-in (it knows who it signed in) or else from the province's roster; the stars from the
 * gateway. What the business system gave is kept for the staff member it signed in (a restart
 * keeps it), until it signs someone in again.
 */
export class StaffCards {
  constructor(private readonly opts: StaffCardsOptions) {}

  /** The business system signed `staffId` in, with the name and photo it gave (or none). */
  vouched(staffId: string, card: { name?: string | undefined; photo?: string | undefined }): void {
    const given = { staffId, ...(card.name !== undefined && { name: card.name }), ...(card.photo !== undefined && { photo: card.photo }) };
    this.opts.settings.set(KEY, JSON.stringify(given));
  }

  card(staffId: string): StaffCard {
    const member = this.opts.roster()?.staff.find((m) => m.staffId === staffId);
    const vouched = this.vouchedFor(staffId);
    return {
      staffId,
      name: vouched?.name ?? member?.name ?? null,
      title: member?.title ?? null,
      photo: vouched?.photo ?? member?.photo ?? null,
      stars: this.opts.stars?.(staffId) ?? null,
    };
  }

  private vouchedFor(staffId: string): z.infer<typeof vouchedSchema> | undefined {
    const text = this.opts.settings.get(KEY);
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    const parsed = explain(vouchedSchema, value);
    return parsed.ok && parsed.data.staffId === staffId ? parsed.data : undefined;
  }
}
