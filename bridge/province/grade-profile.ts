import type { GradeCodeProfileName } from '../../protocol/grades.js';
import type { Logger } from '../log.js';
import type { Settings } from '../store/settings.js';
import { ProvinceConfigPart } from './config-part.js';

/**
 * The grade numbering the province (through its gateway's retained config) asked for. Kept as
 * sent, like the reason catalogue; until it has sent one, the bridge's own mqtt.gradeProfile holds.
 */
export class GradeProfileStore extends ProvinceConfigPart<'gradeProfile'> {
  constructor(
    settings: Settings,
    logger: Logger,
    private readonly local: GradeCodeProfileName,
  ) {
    super(settings, logger, 'gradeProfile', (profile) => ({ profile }));
  }

  /** The profile records are laid out with now. */
  inEffect(): GradeCodeProfileName {
    return this.current() ?? this.local;
  }
}
