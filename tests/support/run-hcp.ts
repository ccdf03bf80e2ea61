import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface HcpRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `hcp` CLI from source as a child process; resolves with its exit code and output. */
export function hcp(args: string[], timeoutMs = 60_000): Promise<HcpRun> {
  return run(process.execPath, ['--import', 'tsx', 'bridge/cli/main.ts', ...args], { timeout: timeoutMs }).then(
    (r) => ({ code: 0, ...r }),
    (e: HcpRun) => e,
  );
}
