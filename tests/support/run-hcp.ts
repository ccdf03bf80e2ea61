import { spawn } from 'node:child_process';

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
