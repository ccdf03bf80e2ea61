import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import type { Logger } from '../log.js';
import { DeskError, type InvitationDesk } from '../desk/invitation-desk.js';
import { runSelftest, type SelftestIO, type SelftestParts, type SelftestReport, type SelftestTimeouts, type StepResult } from './selftest.js';

/**
 * Runs the self-test on a live bridge: one at a time, never while an invitation is open; the
 * desk asks `running` and takes no invitation until it ends.
 */
export class SelftestRunner {
  private active = false;

  constructor(
    private readonly parts: SelftestParts,
    private readonly desk: Pick<InvitationDesk, 'current'>,
    private readonly logger: Logger,
    /** Announces the self-test for the audit (the bridge's `staffAction` event). */
    private readonly staffAction: (entry: StaffActionEntry) => void,
  ) {}

  get running(): boolean {
    return this.active;
  }

  async run(io: SelftestIO, onStep?: (result: StepResult) => void, timeouts?: SelftestTimeouts): Promise<SelftestReport> {
    if (this.active) throw new DeskError(409, 'self_test', 'a self-test is already running');
    const open = this.desk.current();
    if (open) throw new DeskError(409, 'invitation_open', `invitation ${open.id} is open; run the self-test when the window is free`);
    this.active = true;
    this.logger.info('self-test started');
    let report: SelftestReport | undefined;
    try {
      report = await runSelftest(this.parts, io, onStep, timeouts);
      this.logger.info({ passed: report.passed, failed: report.steps.filter((s) => s.outcome === 'fail').map((s) => s.step) }, 'self-test finished');
      return report;
    } finally {
      this.active = false;
      // Who ran it (a technician at the CLI, a remote command) is said by whoever asked; here, that it ran and how it went.
      const failed = report ? report.steps.filter((s) => s.outcome === 'fail').map((s) => s.step).join(',') : null;
      this.staffAction({ action: 'selftest', actor: null, detail: { passed: report?.passed ?? null, failed } });
    }
  }
}
