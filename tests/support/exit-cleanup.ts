import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/*
 * What a test started outside its own process: children still running are killed and temporary
 * folders removed when the test process exits normally. (Not when it is killed: vitest ends its
 * workers with SIGTERM, which skips 'exit' handlers; the children's setpriv covers that end.)
 */
const children = new Set<ChildProcess>();
const folders = new Set<string>();
let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  });
}

/** Kills `child` at exit unless it has ended first (it forgets itself on 'exit'). */
export function killOnExit(child: ChildProcess): void {
  hook();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function removeOnExit(folder: string): void {
  hook();
  folders.add(folder);
}
