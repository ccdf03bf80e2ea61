import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../config.js';

const MAX_TOKEN_FILE_BYTES = 4096;

/**
 * A token kept in a file of its own (http.businessTokenFile, http.technicianTokenFile), so that it
 * is in no config shown around, no argv and no git. The file must be a regular file that others
 * cannot read (chmod 600), holding one token of 16+ characters.
 */
export function readTokenFile(path: string, setting: string): string {
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile() || stat.size > MAX_TOKEN_FILE_BYTES) throw new ConfigError(`${setting}: ${path} is not a token file (a regular file of at most ${MAX_TOKEN_FILE_BYTES} bytes)`, []);
    if ((stat.mode & 0o007) !== 0) throw new ConfigError(`${setting}: ${path} can be read by any user: chmod 600 it (and chown it to the bridge's user)`, []);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${setting}: cannot read ${path}: ${(err as Error).message}`, []);
  }
  const token = text.trim();
  if (token.length < 16 || /\s/.test(token)) throw new ConfigError(`${setting}: ${path} must hold one token of 16 or more characters, without spaces`, []);
  return token;
}
