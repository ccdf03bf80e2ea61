import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/*
 * Builds simulator/avr/uno-uart-pty.c (the simulated Uno) with the system's C compiler against
 * Debian's libsimavr, once per version of the source: the binary is cached under a name that holds
 * the hash of the source and of the compile command, so an edit rebuilds it and nothing else does.
 */

const here = dirname(fileURLToPath(import.meta.url));
export const UNO_SIMULATOR_SOURCE = join(here, 'uno-uart-pty.c');
const DEFAULT_CACHE_DIR = join(here, '..', '..', 'node_modules', '.cache', 'hcp-simavr');

/** Where Debian's libsimavr-dev puts simavr's headers (the parts in parts/). */
const SIMAVR_INCLUDE_DIR = '/usr/include/simavr';
const LIBRARIES = ['-lsimavrparts', '-lsimavr', '-lpthread', '-lutil'];

export interface BuildUnoSimulatorOptions {
  /** Where binaries are kept. Default node_modules/.cache/hcp-simavr in this checkout. */
  cacheDir?: string;
  /** The C compiler. Default $CC, else cc. */
  cc?: string;
  /** simavr's headers. Default /usr/include/simavr. */
  includeDir?: string;
}

const execFileAsync = promisify(execFile);

/** Resolves with the path of the simulated Uno's binary, compiling it first if it is absent or stale. */
export async function buildUnoSimulator({
  cacheDir = DEFAULT_CACHE_DIR,
  cc = process.env.CC || 'cc',
  includeDir = SIMAVR_INCLUDE_DIR,
}: BuildUnoSimulatorOptions = {}): Promise<string> {
  const includeDirs = [includeDir, join(includeDir, 'parts')];
  const missing = [join(includeDir, 'sim_avr.h'), join(includeDir, 'parts', 'uart_pty.h')].filter((header) => !existsSync(header));
  if (missing.length) {
    // libsimavr-dev has the headers; the program runs on libsimavr2 and libsimavrparts1 (uart_pty is a part).
    throw new Error(`cannot build the simulated Uno: ${missing.join(', ')} missing; install Debian's simavr: sudo apt-get install simavr libsimavr-dev libsimavrparts1`);
  }
  const flags = ['-std=gnu11', '-O2', '-Wall', '-Wextra', ...includeDirs.map((dir) => `-I${dir}`)];
  const hash = createHash('sha256').update(readFileSync(UNO_SIMULATOR_SOURCE)).update(JSON.stringify([cc, flags, LIBRARIES])).digest('hex').slice(0, 16);
  const binary = join(cacheDir, `uno-uart-pty-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(cacheDir, { recursive: true });
  // Compiled beside its final name and renamed: test workers building at once never run half a file.
  const partial = `${binary}.${process.pid}.partial`;
  try {
    await execFileAsync(cc, [...flags, UNO_SIMULATOR_SOURCE, '-o', partial, ...LIBRARIES]);
    renameSync(partial, binary);
  } catch (err) {
    rmSync(partial, { force: true });
    const { stderr = '', message, code } = err as Error & { stderr?: string; code?: unknown };
    if (code === 'ENOENT') throw new Error(`cannot build the simulated Uno: no C compiler ${cc} (set CC, or: sudo apt-get install gcc libc6-dev)`, { cause: err });
    throw new Error(`cannot build the simulated Uno with ${cc}: ${stderr.trim() || message}`, { cause: err });
  }
  // Builds of earlier versions of the source are of no further use.
  for (const file of readdirSync(cacheDir)) {
    if (/^uno-uart-pty-[0-9a-f]{16}$/.test(file) && join(cacheDir, file) !== binary) rmSync(join(cacheDir, file), { force: true });
  }
  return binary;
}
