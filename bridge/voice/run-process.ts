import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** The part of a child process the voice tools use: aplay and espeak-ng run as programs, not libraries. */
export interface ChildLike {
  stdin: Writable | null;
  stderr: Readable | null;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): this;
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
}

/** Starts a program with these arguments (never through a shell); injected so that tests can stand in for it. */
export type Spawn = (command: string, args: readonly string[], stdin: boolean) => ChildLike;

export const spawnProgram: Spawn = (command, args, stdin) => spawn(command, args, { stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'] });

/** How a program ended: its exit code (null when a signal ended it) and the tail of what it wrote to stderr. */
export interface ProgramEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** What is kept of a program's stderr: its last lines are what explain a failure. */
const STDERR_KEEP = 4096;

/**
 * Runs a program to its end: resolves with how it ended, whatever the exit code (the caller reads
 * it); rejects only when it could not be started (ENOENT: not installed). `signal` stops it early.
 */
export function runProgram(run: Spawn, command: string, args: readonly string[], options: { stdin?: string; signal?: AbortSignal } = {}): Promise<ProgramEnd> {
  return new Promise((resolve, reject) => {
    const child = run(command, args, options.stdin !== undefined);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    const abort = (): void => void child.kill('SIGTERM');
    options.signal?.addEventListener('abort', abort, { once: true });
    child.on('error', (err) => {
      options.signal?.removeEventListener('abort', abort);
      reject(err);
    });
    child.on('close', (code, signal) => {
      options.signal?.removeEventListener('abort', abort);
      resolve({ code, signal, stderr });
    });
    if (options.stdin !== undefined && child.stdin) {
      // A program that exits before reading all of it (a bad voice) closes the pipe: its exit says why.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.stdin, 'utf8');
    }
  });
}

/** The last non-empty line a program wrote to stderr, or a word on how it ended. */
export function lastLine(end: ProgramEnd): string {
  const line = end.stderr.trim().split('\n').at(-1)?.trim();
  if (line) return line;
  return end.signal ? `ended by ${end.signal}` : `exit code ${end.code}`;
}
