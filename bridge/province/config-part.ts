import { EventEmitter } from 'node:events';
import { explain } from '../../protocol/issues.js';
import { provinceConfigSchema, type ProvinceConfig } from '../../protocol/province-config.js';
import type { Logger } from '../log.js';
import type { Settings } from '../store/settings.js';

type Part = keyof ProvinceConfig;

/**
 * One part of the province's retained config (the reason catalogue, the staff roster), as the
 * province last sent it: kept as sent in the settings table, so that it survives a restart, and
 * never edited locally. A config that leaves the part out leaves it as it was. `adopted` tells
 * who prepares for a new one (the voice synthesizes a new catalogue's labels).
 */
export class ProvinceConfigPart<K extends Part> extends EventEmitter<{ adopted: [NonNullable<ProvinceConfig[K]>] }> {
  private value: NonNullable<ProvinceConfig[K]> | null;

  constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
    private readonly part: K,
    /** What the log says of an adopted part: its version and size, never its contents (PIN hashes). */
    private readonly describe: (value: NonNullable<ProvinceConfig[K]>) => Record<string, unknown>,
  ) {
    super();
    this.value = this.stored();
  }

  current(): NonNullable<ProvinceConfig[K]> | null {
    return this.value;
  }

  adopt(config: ProvinceConfig): void {
    const value = config[this.part];
    if (!value) return;
    this.settings.set(this.key, JSON.stringify(value));
    this.value = value;
    this.logger.info(this.describe(value), `${this.part} from the province`);
    this.emit('adopted', value);
  }

  private get key(): string {
    return `province.${this.part}`;
  }

  /** Read back through the schema: a row edited on the Pi is not trusted as the province's. */
  private stored(): NonNullable<ProvinceConfig[K]> | null {
    const text = this.settings.get(this.key);
    if (!text) return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.logger.warn({ part: this.part, problems: ['not JSON'] }, 'the stored province config is unreadable; waiting for the province to send it again');
      return null;
    }
    const parsed = explain(provinceConfigSchema, { [this.part]: value });
    const stored = parsed.ok ? parsed.data[this.part] : undefined;
    if (stored) return stored;
    this.logger.warn({ part: this.part, problems: parsed.ok ? [] : parsed.problems }, 'the stored province config is unreadable; waiting for the province to send it again');
    return null;
  }
}
