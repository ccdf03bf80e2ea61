/*
 * CPU time of processes, from /proc (Linux): what each part of a benchmark cost in CPU seconds,
 * not in wall time, which on a shared machine counts the waits for the others too.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ): 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime, seconds. */
  own: number;
  /** cutime + cstime: children waited for, seconds. */
  children: number;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: the fields after it follow its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const num = (field: number): number => Number(fields[field - 3]);
    return { ppid: num(4), own: (num(14) + num(15)) / TICKS_PER_SECOND, children: (num(16) + num(17)) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** CPU seconds a process has used (user + system, its threads included); undefined once it is gone. */
export function cpuSecondsOf(pid: number): number | undefined {
  return procStat(pid)?.own;
}

/**
 * CPU seconds of a process tree one level deep (a server and its worker processes, e.g. the
 * postmaster and its backends): itself, its live children, and its children that have exited.
 */
export function treeCpuSecondsOf(pid: number): number | undefined {
  const root = procStat(pid);
  if (!root) return undefined;
  let sum = root.own + root.children;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat?.ppid === pid) sum += stat.own;
  }
  return sum;
}
