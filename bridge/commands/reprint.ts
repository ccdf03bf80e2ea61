import type { CommandHandler } from './command.js';

/** Prints an invitation's receipt again (补打). */
export const reprint: CommandHandler<'reprint'> = ({ invitationId }, ctx) => ctx.reprint(invitationId, 'province');
