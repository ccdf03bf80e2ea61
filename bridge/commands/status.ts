import type { CommandHandler } from './command.js';

/** The terminal's status, as GET /api/v1/status gives it. */
export const status: CommandHandler<'status'> = (_command, ctx) => ctx.status();
