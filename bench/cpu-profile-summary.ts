/*
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): top functions by self time, and
 * self time by source area (bridge/, simulator/, node_modules/<pkg>, node internals, GC).
 *
 *   tsx bench/cpu-profile-summary.ts <file-or-dir.cpuprofile> [--top 25]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  top: { fn: string; where: string; selfMs: number; pct: number }[];
  byArea: { area: string; selfMs: number; pct: number }[];
  /** Inclusive time (self + callees) of functions whose name matches one of the watched names. */
  inclusive: { fn: string; where: string; totalMs: number; pct: number }[];
}

function area(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'program (native, not JS)';
  if (!url) return 'native / builtin';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return `node_modules/${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  for (const dir of ['bridge/', 'simulator/', 'protocol/', 'firmware/', 'bench/']) {
    const at = url.indexOf(`/${dir}`);
    if (at >= 0) return dir.slice(0, -1);
  }
  return 'other';
}

function shortUrl(url: string, line: number): string {
  if (!url) return '';
  let path = url;
  try {
    if (url.startsWith('file:')) path = fileURLToPath(url);
  } catch {
    // keep it
  }
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) path = path.slice(nm + 'node_modules/'.length);
  else {
    const m = path.match(/\/(bridge|simulator|protocol|firmware|bench)\/.*/);
    if (m) path = m[0].slice(1);
  }
  return `${path}:${line + 1}`;
}

/** Inclusive time of functions named in `watch` (counted once per sample even when recursive). */
export function summariseProfile(file: string, topN = 25, watch: readonly string[] = []): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // Self time per node from samples and time deltas (hitCount alone ignores uneven sampling).
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const inclusiveUs = new Map<string, number>();
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    // A sample's time is the delta to the next sample.
    const us = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + us);
    if (watch.length) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const n = byId.get(cur);
        if (!n) break;
        const name = n.callFrame.functionName;
        if (watch.includes(name)) {
          const key = `${name}\t${shortUrl(n.callFrame.url, n.callFrame.lineNumber)}`;
          if (!seen.has(key)) {
            seen.add(key);
            inclusiveUs.set(key, (inclusiveUs.get(key) ?? 0) + us);
          }
        }
      }
    }
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'}\t${shortUrl(url, lineNumber)}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    let a = area(url, functionName);
    if (a === 'native / builtin') {
      // A native function (e.g. better-sqlite3's Statement.get, a socket's writev): say who called it.
      let caller: ProfileNode | undefined;
      for (let cur = parent.get(id); cur !== undefined && !caller; cur = parent.get(cur)) {
        const n = byId.get(cur);
        if (n?.callFrame.url) caller = n;
      }
      if (caller) a = `native, called from ${area(caller.callFrame.url, caller.callFrame.functionName)}${caller.callFrame.url.includes('bridge/store/') || caller.callFrame.url.includes('better-sqlite3') ? ' (SQLite)' : ''}`;
    }
    byArea.set(a, (byArea.get(a) ?? 0) + us);
  }
  const pct = (us: number): number => Math.round((us / totalUs) * 1000) / 10;
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    top: [...byFn.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([key, us]) => {
        const [fn = '', where = ''] = key.split('\t');
        return { fn, where, selfMs: Math.round(us / 1000), pct: pct(us) };
      }),
    byArea: [...byArea.entries()].sort((a, b) => b[1] - a[1]).map(([a, us]) => ({ area: a, selfMs: Math.round(us / 1000), pct: pct(us) })),
    inclusive: [...inclusiveUs.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([key, us]) => {
        const [fn = '', where = ''] = key.split('\t');
        return { fn, where, totalMs: Math.round(us / 1000), pct: pct(us) };
      }),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const lines = [`CPU profile ${s.file} (${(s.totalMs / 1000).toFixed(1)} s sampled)`, '  self time by area:'];
  for (const a of s.byArea) lines.push(`    ${String(a.pct).padStart(5)} %  ${String(a.selfMs).padStart(7)} ms  ${a.area}`);
  lines.push('  top functions by self time:');
  for (const f of s.top) lines.push(`    ${String(f.pct).padStart(5)} %  ${String(f.selfMs).padStart(7)} ms  ${f.fn}  ${f.where}`);
  if (s.inclusive.length) {
    lines.push('  inclusive time (self + callees) of watched functions:');
    for (const f of s.inclusive) lines.push(`    ${String(f.pct).padStart(5)} %  ${String(f.totalMs).padStart(7)} ms  ${f.fn}  ${f.where}`);
  }
  return lines.join('\n');
}

/** The bridge functions worth seeing inclusively in a drain profile. */
export const DRAIN_WATCH = [
  'pump',
  'drain',
  'publish',
  'onAck',
  'settle',
  'pending',
  'countPending',
  'republishOverdue',
  'forUpstream',
  'toUpstream',
  'stats',
  'status',
  'sendTelemetry',
];

/** The gateway functions worth seeing inclusively in a fleet profile (hcp gateway processes). */
export const GATEWAY_WATCH = [
  'readRecordMessage',
  'decodeRecord',
  'classifyBatch',
  'verifySealed',
  'verifyOneShot',
  'signedBytes',
  'recordHash',
  'canonicalJson',
  'recordRow',
  '#settle',
  '#write',
  'insertRecords',
  'insertChainLinks',
  'loadChainLinks',
  'lockIngestTerminals',
  'ackMessages',
];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  for (const target of positionals) {
    const files = statSync(target).isDirectory()
      ? readdirSync(target)
          .filter((f) => f.endsWith('.cpuprofile'))
          .map((f) => join(target, f))
      : [target];
    for (const file of files) console.log(formatSummary(summariseProfile(file, Number(values.top), DRAIN_WATCH)));
  }
}
