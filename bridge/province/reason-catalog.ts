import type { Logger } from '../log.js';
import type { Settings } from '../store/settings.js';
import { ProvinceConfigPart } from './config-part.js';

/**
 * The province's bad-review reason catalogue, as its retained config last sent it. Kept as sent
 * (it survives a restart) and never edited locally; the desk offers it, status reports it.
 */
export class ReasonCatalogStore extends ProvinceConfigPart<'reasonCatalog'> {
  constructor(settings: Settings, logger: Logger) {
    super(settings, logger, 'reasonCatalog', (catalog) => ({ version: catalog.version }));
  }
}
