import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { RemoteConfigChanges } from '../protocol/commands.js';
import { ConfigError, parseConfig, readConfigText, type BridgeConfig } from './config.js';

/**
 * Writes the config file whole: to a temporary file, flushed, then renamed over the old one, so
 * that a power cut leaves the old or the new file, never half of one. Mode 0600: it may hold the
 * broker password.
 */
export function writeConfigFile(path: string, text: string): void {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

export interface ConfigUpdate {
  /** Each setting that changed, as "section.key: old → new". */
  changed: string[];
  config: BridgeConfig;
}

/**
 * Applies the province's changes to the config file, keeping its comments and layout (YAML) and
 * refusing, with the file untouched, anything that would make it invalid.
 */
export function updateConfigFile(path: string, changes: RemoteConfigChanges): ConfigUpdate {
  const text = readConfigText(path);
  const document = parseDocument(text);
  if (document.errors.length > 0) throw new ConfigError(`config file ${path} is not valid YAML/JSON: ${document.errors[0]?.message ?? ''}`, []);
  const changed: string[] = [];
  for (const [section, settings] of Object.entries(changes)) {
    for (const [key, value] of Object.entries(settings as Record<string, unknown>)) {
      const before: unknown = document.getIn([section, key]);
      if (before === value) continue;
      document.setIn([section, key], value);
      changed.push(`${section}.${key}: ${before === undefined ? '(default)' : String(before)} → ${String(value)}`);
    }
  }
  const config = parseConfig(document.toJS(), `config file ${path} after the update`);
  if (changed.length > 0) {
    writeConfigFile(path, path.endsWith('.json') ? `${JSON.stringify(document.toJS(), null, 2)}\n` : String(document));
  }
  return { changed, config };
}
