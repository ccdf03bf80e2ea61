import type { Command, CommandResult } from '../../protocol/commands.js';
import { ConfigError } from '../config.js';
import type { InvalidCommand } from '../uplink/uplink.js';
import { CommandFailed, type CommandContext, type CommandHandler } from './command.js';
import { reprint } from './reprint.js';
import { resend } from './resend.js';
import { selftest } from './selftest.js';
import { status } from './status.js';
import { updateConfig } from './update-config.js';

/** Every command the province may send (protocol/commands.ts), and who carries it out. */
const COMMANDS: { [N in Command['command']]: CommandHandler<N> } = {
  status,
  reprint,
  resend,
  selftest,
  'update-config': updateConfig,
};

/** The actor of every remote command in the audit: whoever holds the province's account. */
const PROVINCE = 'province';

/**
 * Carries out a command from the province and says how it went; every failure leaves by one
 * exit, and every command, carried out or not, is audited by its name.
 */
export async function route(command: Command | InvalidCommand, ctx: CommandContext): Promise<CommandResult> {
  const result = await carryOut(command, ctx);
  const name = 'invalid' in command ? null : command.command;
  ctx.staffAction({ action: 'remote_command', actor: PROVINCE, detail: { command: name, id: command.id, ok: result.ok } });
  return result;
}

async function carryOut(command: Command | InvalidCommand, ctx: CommandContext): Promise<CommandResult> {
  if ('invalid' in command) return { id: command.id, ok: false, error: `invalid command: ${command.invalid}` };
  ctx.logger.info({ command }, 'command from the province');
  // The table pairs each name with its own command's handler; TypeScript cannot follow that through the union.
  const handler = COMMANDS[command.command] as CommandHandler<Command['command']>;
  try {
    return { id: command.id, ok: true, result: await handler(command, ctx) };
  } catch (err) {
    const failed = err instanceof CommandFailed && err.result !== undefined ? { result: err.result } : {};
    return { id: command.id, ok: false, error: errorText(err), ...failed };
  }
}

function errorText(err: unknown): string {
  // A config the change would make invalid: its problems on one line.
  if (err instanceof ConfigError) return err.message.replace(/\n\s*-\s*/g, '; ');
  return err instanceof Error ? err.message : String(err);
}
