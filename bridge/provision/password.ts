import { explain } from '../../protocol/issues.js';
import { mqttPasswordSchema } from '../config.js';
import { readSecretFile, SecretFileRefused } from '../secret-file.js';

/*
 * Where `hcp provision` takes the broker password from: a file (--password-file), the environment
 * (HCP_MQTT_PASSWORD) or the prompt, echo off. Never the command line: every user sees argv in
 * `ps`, and the shell keeps it in its history. Each source is checked by the config's own rule
 * (mqttPasswordSchema), and a refusal names the source, never the password.
 */

export const PASSWORD_ENV = 'HCP_MQTT_PASSWORD';

/** Why --password is refused, and how to give the password instead (also its --help line). */
export const PASSWORD_ON_ARGV = `a password on the command line is seen by every user (ps) and kept in the shell's history: give --password-file FILE (one line, mode 600), set ${PASSWORD_ENV}, or type it at the prompt`;

export class PasswordRefused extends Error {
  override name = 'PasswordRefused';
}

export interface PasswordSources {
  /** --password-file. */
  file?: string | undefined;
  /** The environment (HCP_MQTT_PASSWORD). */
  env: Readonly<Record<string, string | undefined>>;
}

export interface GivenPassword {
  password: string;
  /** Where it came from, for the report: "--password-file /root/pw", "HCP_MQTT_PASSWORD". */
  from: string;
}

/**
 * The password from --password-file or the environment; undefined when neither gives one (the
 * prompt asks, or the broker takes no password). Throws PasswordRefused, naming the source.
 */
export function givenPassword(sources: PasswordSources, readFile: (path: string) => string = readSecretFile): GivenPassword | undefined {
  const fromEnv = sources.env[PASSWORD_ENV];
  if (sources.file !== undefined && fromEnv !== undefined) {
    throw new PasswordRefused(`--password-file and ${PASSWORD_ENV} are both given: give one (unset ${PASSWORD_ENV}, or leave out --password-file)`);
  }
  if (sources.file !== undefined) {
    const from = `--password-file ${sources.file}`;
    let text: string;
    try {
      text = readFile(sources.file);
    } catch (err) {
      throw new PasswordRefused(`${from}: ${err instanceof SecretFileRefused ? err.message : `cannot read it: ${(err as Error).message}`}`);
    }
    return { password: checked(text, from), from };
  }
  if (fromEnv !== undefined) return { password: checked(fromEnv, PASSWORD_ENV), from: PASSWORD_ENV };
  return undefined;
}

/** What is wrong with a password, or undefined: the config's own rule. */
export function passwordProblem(password: string): string | undefined {
  const result = explain(mqttPasswordSchema, password);
  return result.ok ? undefined : result.problems.map((line) => line.replace(/^[^:]*: /, '')).join('; ');
}

function checked(password: string, from: string): string {
  const problem = passwordProblem(password);
  if (problem) throw new PasswordRefused(`${from}: the password ${problem}`);
  return password;
}
