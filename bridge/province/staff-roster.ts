import type { Logger } from '../log.js';
import type { Settings } from '../store/settings.js';
import { ProvinceConfigPart } from './config-part.js';

/**
 * Who may sign in at this window, as the province's retained config last sent it: 工号, name and
 * PIN hash per staff member. Kept as sent and never edited locally; the API checks sign-ins by it.
 */
export class StaffRosterStore extends ProvinceConfigPart<'staffRoster'> {
  constructor(settings: Settings, logger: Logger) {
    super(settings, logger, 'staffRoster', (roster) => ({ version: roster.version, staff: roster.staff.length }));
  }
}
