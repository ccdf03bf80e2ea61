import type { Command } from '../../protocol/commands.js';
import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import type { Logger } from '../log.js';
import type { SelftestIO, SelftestReport } from '../selftest/selftest.js';
import type { BridgeStatus } from '../status/status.js';
import type { Outbox } from '../store/outbox.js';

/** What the province's commands act on: the bridge's parts, as far as commands need them. */
export interface CommandContext {
  status(): BridgeStatus;
  outbox: Pick<Outbox, 'requeueRange'>;
  /** Queues the invitation's receipt again and announces it for the audit as `reprint` by `actor`; throws when it cannot. */
  reprint(invitationId: string, actor: string): { receiptId: string };
  selftest(io: SelftestIO): Promise<SelftestReport>;
  /** The config file the bridge was started from, if any. */
  configFile: string | undefined;
  /** Restarts the bridge on its changed config once the command's answer is out. */
  restartAfterAnswer(why: string): void;
  /** Announces an action for the audit (the bridge's `staffAction` event). */
  staffAction(entry: StaffActionEntry): void;
  logger: Logger;
}

export type CommandOf<N extends Command['command']> = Extract<Command, { command: N }>;

/** Carries out one kind of command; its value is the answer's `result`, a throw its `error`. */
export type CommandHandler<N extends Command['command']> = (command: CommandOf<N>, ctx: CommandContext) => unknown;

/** A command that could not be done; `result` goes with the error when there is something to show. */
export class CommandFailed extends Error {
  constructor(
    message: string,
    readonly result?: unknown,
  ) {
    super(message);
    this.name = 'CommandFailed';
  }
}
