import { ConfigError } from '../config.js';
import { readSecretFile, SecretFileRefused } from '../secret-file.js';

/**
 * A token kept in a file of its own (http.businessTokenFile, http.technicianTokenFile), so that it
 * is in no config shown around, no argv and no git: a secret file (bridge/secret-file.ts) only its
 * owner may read (chmod 600), holding one token of 16+ characters.
 */
export function readTokenFile(path: string, setting: string): string {
  let text: string;
  try {
    text = readSecretFile(path, { ownerOnly: true });
  } catch (err) {
    if (err instanceof SecretFileRefused) throw new ConfigError(`${setting}: ${path}: ${err.message}`, []);
    throw new ConfigError(`${setting}: cannot read ${path}: ${(err as Error).message}`, []);
  }
  const token = text.trim();
  if (token.length < 16 || /\s/.test(token)) throw new ConfigError(`${setting}: ${path} must hold one token of 16 or more characters, without spaces`, []);
  return token;
}

/**
 * The business system's and the technician's tokens, from their files. Each must differ from the
 * others and from http.token: the console's token would otherwise sign staff in without a PIN,
 * or make test invitations.
 */
export function callerTokens(http: { token?: string | undefined; businessTokenFile?: string | undefined; technicianTokenFile?: string | undefined }): {
  businessToken: string | undefined;
  technicianToken: string | undefined;
} {
  const businessToken = http.businessTokenFile === undefined ? undefined : readTokenFile(http.businessTokenFile, 'http.businessTokenFile');
  const technicianToken = http.technicianTokenFile === undefined ? undefined : readTokenFile(http.technicianTokenFile, 'http.technicianTokenFile');
  const named: Array<[string, string | undefined]> = [
    ['http.token', http.token],
    ['http.businessTokenFile', businessToken],
    ['http.technicianTokenFile', technicianToken],
  ];
  named.forEach(([name, token], i) => {
    const same = named.slice(0, i).find(([, other]) => token !== undefined && other === token);
    if (same) throw new ConfigError(`${name} holds the same token as ${same[0]}: each caller needs its own`, []);
  });
  return { businessToken, technicianToken };
}
