import { CommandFailed, type CommandHandler } from './command.js';

/** The self-test with nobody at the counter: the steps that need a person are reported skipped. */
export const selftest: CommandHandler<'selftest'> = async (_command, ctx) => {
  const report = await ctx.selftest({ say: (text) => ctx.logger.info({ selftest: text }, 'self-test') });
  if (!report.passed) throw new CommandFailed('self-test failed: see result.steps', report);
  return report;
};
