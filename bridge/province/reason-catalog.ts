import type { ProvinceConfig, ReasonCatalog } from '../../protocol/province-config.js';
import type { Logger } from '../log.js';
import type { Settings } from '../store/settings.js';

const SETTINGS_KEY = 'province.reasonCatalog';

/**
 * The province's bad-review reason catalogue, as its retained config last sent it. Kept as sent
 * (it survives a restart) and never edited locally; the desk offers it, status reports it.
 */
export class ReasonCatalogStore {
  private catalog: ReasonCatalog | null;

  constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
  ) {
    const stored = settings.get(SETTINGS_KEY);
    this.catalog = stored ? (JSON.parse(stored) as ReasonCatalog) : null;
  }

  current(): ReasonCatalog | null {
    return this.catalog;
  }

  /** Takes the catalogue from the province's config; a config without one leaves it as it was. */
  adopt(config: ProvinceConfig): void {
    if (!config.reasonCatalog) return;
    this.settings.set(SETTINGS_KEY, JSON.stringify(config.reasonCatalog));
    this.catalog = config.reasonCatalog;
    this.logger.info({ version: config.reasonCatalog.version }, 'reason catalogue from the province');
  }
}
