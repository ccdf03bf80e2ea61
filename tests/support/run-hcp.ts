import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { killOnExit } from './exit-cleanup.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** util-linux: makes the kernel kill the child when this process dies, however it dies. */
const SETPRIV = '/usr/bin/setpriv';

export interface HcpRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the `hcp` CLI from source as a child process; resolves with its exit code and output.
 * `input` is written to its stdin (then closed), as a person or a script would answer prompts;
 * `env` is added to this process's environment.
 */
export function hcp(args: string[], timeoutMs = 60_000, input = '', env: Record<string, string> = {}): Promise<HcpRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { timeout: timeoutMs, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.end(input);
  });
}

/**
 * `hcp <args>` from source as a long-running child (a bridge, a gateway; the benchmarks' too):
 * stdout and stderr piped, killed with this process (setpriv's parent-death signal, and at exit).
 * `nodeFlags` go to Node itself (e.g. --cpu-prof).
 */
export function spawnHcpChild(args: string[], { env = process.env, nodeFlags = [] }: { env?: NodeJS.ProcessEnv; nodeFlags?: readonly string[] } = {}): ChildProcess {
  const node = [...nodeFlags, '--import', 'tsx', 'cli/main.ts', ...args];
  const [command, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', process.execPath, ...node]] : [process.execPath, node];
  const child = spawn(command, argv, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  return child;
}
