import { updateConfigFile } from '../config-file.js';
import { CommandFailed, type CommandHandler } from './command.js';

/** Changes operational settings in the config file; the bridge restarts on it once the answer is out. */
export const updateConfig: CommandHandler<'update-config'> = (command, ctx) => {
  if (!ctx.configFile) throw new CommandFailed('this bridge runs without a config file: nothing to update');
  const { changed } = updateConfigFile(ctx.configFile, command.changes);
  if (changed.length > 0) {
    // The keys only ("section.key: old → new" less the values): the audit never holds a secret.
    const keys = changed.map((line) => line.slice(0, line.indexOf(':')));
    ctx.staffAction({ action: 'config_change', actor: 'province', detail: { command: command.id, keys: keys.join(',') } });
    ctx.restartAfterAnswer(`config updated by command ${command.id}`);
  }
  return { changed, restarting: changed.length > 0 };
};
