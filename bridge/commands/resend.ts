import { CommandFailed, type CommandHandler } from './command.js';

/** The province lost records: the acknowledged ones in the range are published again (the uplink hears of it from the outbox). */
export const resend: CommandHandler<'resend'> = ({ fromSeq, toSeq }, ctx) => {
  if (toSeq < fromSeq) throw new CommandFailed('toSeq: must not be below fromSeq');
  return { requeued: ctx.outbox.requeueRange(fromSeq, toSeq) };
};
