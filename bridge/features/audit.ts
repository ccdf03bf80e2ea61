import { RECORD_SCHEMA_VERSION, type StoredEvent } from '../../protocol/records.js';
import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import { stamp } from '../clock.js';
import type { Feature, FeatureContext } from './feature.js';

type AuditContext = Pick<FeatureContext, 'events' | 'config' | 'clock' | 'logger' | 'audit' | 'outbox' | 'transaction' | 'newId'>;

/** Keys an entry's detail may not carry upstream or into the audit: what the citizen pressed is no staff action. */
const NEVER_AUDITED = new Set(['grade', 'gradeCode', 'rating']);

/**
 * The audit trail: every staff, technician or province action the bridge announces
 * (`staffAction`) is appended to the audit table and, in the same commit, to the outbox as a
 * `staff_action` event, so that it goes upstream sealed and chained like every record.
 */
export class Audit implements Feature {
  constructor(private readonly ctx: AuditContext) {}

  start(): void {
    this.ctx.events.on('staffAction', this.record);
  }

  stop(): void {
    this.ctx.events.off('staffAction', this.record);
  }

  private readonly record = (entry: StaffActionEntry): void => {
    const { ctx } = this;
    const detail = Object.fromEntries(Object.entries(entry.detail).filter(([key]) => !NEVER_AUDITED.has(key)));
    const event = this.eventOf({ ...entry, detail });
    try {
      ctx.transaction(() => {
        ctx.audit.append({ ...entry, detail }, new Date(event.at), event.id);
        ctx.outbox.append(event);
      });
    } catch (err) {
      // The action itself has happened; what is lost is its trace, said loudly.
      ctx.logger.error({ err: (err as Error).message, action: entry.action, actor: entry.actor }, 'a staff action could not be audited');
    }
  };

  private eventOf({ action, actor, detail }: StaffActionEntry): StoredEvent {
    const { terminal } = this.ctx.config;
    return {
      id: this.ctx.newId(),
      kind: 'event',
      schema: RECORD_SCHEMA_VERSION,
      terminalId: terminal.id,
      areaCode: terminal.areaCode,
      hallCode: terminal.hallCode,
      windowNo: terminal.windowNo,
      flags: [],
      test: false,
      clock: stamp(this.ctx.clock),
      staffId: null,
      type: 'staff_action',
      at: this.ctx.clock.now().toISOString(),
      // action and actor last: a detail of the same name cannot pass for them.
      detail: { ...detail, action, actor },
      device: null,
    };
  }
}
