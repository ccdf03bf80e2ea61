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
    try {
      const report = await runSelftest(this.parts, io, onStep, timeouts);
      this.logger.info({ passed: report.passed, failed: report.steps.filter((s) => s.outcome === 'fail').map((s) => s.step) }, 'self-test finished');
      return report;
    } finally {
      this.active = false;
    }
  }
}
