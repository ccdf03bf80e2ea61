/**
 * Where the prebuilt tools shared between checkouts live (the Espruino interpreter built for
 * Linux, StandardFirmata for an Uno, …): `HCP_SHARED_TOOLS` if set, else `../shared/tools` beside
 * the repository, else `/work/shared/tools`. One lookup, used by the build and the tests alike.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FALLBACK = '/work/shared/tools';

/** The folders looked at, in order: the environment's choice, beside the repository, the fixed fallback. */
export function sharedToolsCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = env.HCP_SHARED_TOOLS;
  if (fromEnv !== undefined && fromEnv !== '') return [resolve(fromEnv)];
  return [join(REPO, '..', 'shared', 'tools'), FALLBACK];
}

/** The shared tools folder; throws naming every place looked at when none exists. */
export function sharedToolsDir(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = sharedToolsCandidates(env);
  const found = candidates.find((dir) => existsSync(dir));
  if (found === undefined) {
    throw new Error(`shared tools folder not found (looked at ${candidates.join(', ')}): set HCP_SHARED_TOOLS to the folder holding espruino/ (see its README.md)`);
  }
  return found;
}

/** Espruino for Linux, by the board whose memory it has: unlimited, a Pico's 5,100 variables, an MDBT42Q's 2,500. */
export type EspruinoKind = 'unlimited' | 'pico' | 'mdbt42q';

const ESPRUINO_FILES: Record<EspruinoKind, string> = {
  unlimited: 'espruino-linux',
  pico: 'espruino-linux-5100vars',
  mdbt42q: 'espruino-linux-2500vars',
};

/** Variables each interpreter has (the unlimited one grows as needed). */
export const ESPRUINO_VARIABLES: Record<EspruinoKind, number> = { unlimited: Infinity, pico: 5100, mdbt42q: 2500 };

/** The interpreter's path; throws naming where it looked when it is not there. */
export function espruinoBinary(kind: EspruinoKind, env: NodeJS.ProcessEnv = process.env): string {
  const file = join(sharedToolsDir(env), 'espruino', ESPRUINO_FILES[kind]);
  if (!existsSync(file)) {
    throw new Error(`Espruino for Linux (${kind}) not found at ${file}: set HCP_SHARED_TOOLS to the folder holding espruino/${ESPRUINO_FILES[kind]} (see its README.md)`);
  }
  return file;
}
