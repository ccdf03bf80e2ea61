import type { ReasonCatalog } from '../../protocol/province-config.js';
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

/** The catalogue in use, and word when a new one is adopted: what a feature needs of the store. */
export interface ReasonCatalogSource {
  current(): ReasonCatalog | null;
  on(event: 'adopted', listener: (catalog: ReasonCatalog) => void): unknown;
  off(event: 'adopted', listener: (catalog: ReasonCatalog) => void): unknown;
}
