import { ConfigError } from '../../bridge/config.js';
import { readSecretFile, SecretFileRefused } from '../../bridge/secret-file.js';
import type { ProvinceProfile } from './profile.js';
import { isSm2PrivateKeyHex, sameSm2PublicKey, sm2PublicKeyOf } from './sm2.js';

/*
 * Contract: `loadProvinceSecrets(profile, env)` reads what signs our envelopes: the appWord (from
 * profile.appWordFile, mode 600, or the environment variable profile.appWordEnv) and the SM2
 * private key (profile.sm2.privateKeyFile, mode 600, 64 hex characters), and checks that the key
 * is the one whose public key the profile gives the province. Refusals are ConfigErrors naming the
 * field and never the secret.
 */

export interface ProvinceSecrets {
  appWord: string;
  /** 64 lowercase hex characters. */
  privateKey: string;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function secretFromFile(path: string, field: string): string {
  try {
    return readSecretFile(path, { ownerOnly: true });
  } catch (err) {
    const why = err instanceof SecretFileRefused ? err.message : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError(`province profile: ${field} ${path}: ${why}`, []);
  }
}

function checkAppWord(appWord: string, where: string): string {
  if (appWord.length === 0) throw new ConfigError(`province profile: ${where} is empty: it holds the appWord the province gave`, []);
  if (appWord.length > 512) throw new ConfigError(`province profile: ${where} is longer than 512 characters: is it the right one?`, []);
  if (CONTROL.test(appWord)) throw new ConfigError(`province profile: ${where} contains a control character (a line break inside?): the appWord is one line`, []);
  return appWord;
}

export function loadProvinceSecrets(profile: ProvinceProfile, env: Record<string, string | undefined> = process.env): ProvinceSecrets {
  let appWord: string;
  if (profile.appWordFile !== undefined) {
    appWord = checkAppWord(secretFromFile(profile.appWordFile, 'appWordFile'), `appWordFile ${profile.appWordFile}`);
  } else {
    const name = profile.appWordEnv ?? '';
    const value = env[name];
    if (value === undefined) throw new ConfigError(`province profile: appWordEnv: the environment variable ${name} is not set`, []);
    appWord = checkAppWord(value, `appWordEnv ${name}`);
  }
  const privateKey = secretFromFile(profile.sm2.privateKeyFile, 'sm2.privateKeyFile').trim().toLowerCase();
  if (!isSm2PrivateKeyHex(privateKey)) {
    throw new ConfigError(`province profile: sm2.privateKeyFile ${profile.sm2.privateKeyFile} does not hold an SM2 private key: expected 64 hex characters on one line (\`hcp gateway province keygen\` writes one)`, []);
  }
  if (!sameSm2PublicKey(sm2PublicKeyOf(privateKey), profile.sm2.publicKey)) {
    throw new ConfigError(`province profile: sm2.publicKey is not the public key of sm2.privateKeyFile ${profile.sm2.privateKeyFile}: the province would refuse every signature`, []);
  }
  return { appWord, privateKey };
}
