import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { explain } from '../../protocol/issues.js';
import { mqttPasswordSchema } from '../config.js';

/*
 * Where `hcp provision` takes the broker password from: a file (--password-file), the environment
 * (HCP_MQTT_PASSWORD) or the prompt, echo off. Never the command line: every user sees argv in
 * `ps`, and the shell keeps it in its history. Each source is checked by the config's own rule
 * (mqttPasswordSchema), and a refusal names the source, never the password.
 */

export const PASSWORD_ENV = 'HCP_MQTT_PASSWORD';

/** Why --password is refused, and how to give the password instead (also its --help line). */
export const PASSWORD_ON_ARGV = `a password on the command line is seen by every user (ps) and kept in the shell's history: give --password-file FILE (one line, mode 600), set ${PASSWORD_ENV}, or type it at the prompt`;

/** Far beyond any password: a bigger file is the wrong one, refused before it is read. */
const MAX_FILE_BYTES = 64 * 1024;

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
export function givenPassword(sources: PasswordSources, readFile: (path: string) => string = readPasswordFile): GivenPassword | undefined {
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
      throw new PasswordRefused(`${from}: ${err instanceof PasswordRefused ? err.message : `cannot read it: ${(err as Error).message}`}`);
    }
    return { password: checked(withoutFinalNewline(text), from), from };
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

/** `echo secret > file` ends the line: that one line break is not the password's. */
function withoutFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/** A regular file's text, bounded; a FIFO or a device is refused before a read could block or never end. */
export function readPasswordFile(path: string): string {
  // Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new PasswordRefused('not a regular file (a folder, device or FIFO): give the file holding the password');
    if (stat.size > MAX_FILE_BYTES) throw new PasswordRefused(`${stat.size} bytes: a password file is one line; is it the right file?`);
    const buffer = Buffer.alloc(stat.size);
    const read = readSync(fd, buffer, 0, stat.size, 0);
    try {
      // Fatal: bytes that are not UTF-8 would otherwise be replaced, and the password silently changed.
      return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, read));
    } catch {
      throw new PasswordRefused('is not UTF-8 text: write the password as one line of text');
    }
  } finally {
    closeSync(fd);
  }
}
