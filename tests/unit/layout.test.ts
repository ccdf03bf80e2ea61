import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * The folders' contract (ARCHITECTURE.md, docs/architecture.md): no arrow runs back up. Read from
 * the sources themselves, so that a new import that breaks the shape fails here, not in review.
 */

const ROOT = resolve(import.meta.dirname, '../..');

function sources(folder: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (/\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every module a file imports (static, dynamic and type-only), as written. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'([^']+)'/g)].map((m) => m[1] as string);
}

/** The top-level folder a relative import of `file` lands in, or the package name. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(ROOT, resolve(ROOT, file, '..', spec)).split(sep)[0] as string;
}

function violations(folder: string, allowed: (target: string) => boolean): string[] {
  return sources(folder).flatMap((file) => importsOf(file).filter((spec) => !allowed(target(file, spec))).map((spec) => `${file} imports ${spec}`));
}

describe('folder layout', () => {
  it('protocol/ imports only itself and pure packages (no Node APIs, no other folder)', () => {
    const pure = new Set(['protocol', 'zod', 'zod/v4/core', 'iconv-lite', 'qrcode', '@noble/curves/ed25519.js', '@noble/hashes/sha2.js', '@noble/hashes/utils.js']);
    expect(violations('protocol', (t) => pure.has(t))).toEqual([]);
  });

  it('bridge/ never imports simulator/, gateway/, cli/ or tests/', () => {
    expect(violations('bridge', (t) => !['simulator', 'gateway', 'cli', 'tests', 'bench'].includes(t))).toEqual([]);
  });

  it('gateway/ never imports simulator/, cli/ or tests/, and of bridge/ only its small file and log helpers', () => {
    expect(violations('gateway', (t) => !['simulator', 'cli', 'tests', 'bench'].includes(t))).toEqual([]);
    const helpers = new Set(['bridge/config.ts', 'bridge/secret-file.ts', 'bridge/log.ts', 'bridge/uplink/tls-files.ts']);
    const bridgeImports = sources('gateway').flatMap((file) =>
      importsOf(file)
        .filter((spec) => target(file, spec) === 'bridge')
        .map((spec) => relative(ROOT, resolve(ROOT, file, '..', spec)).split(sep).join('/').replace(/\.js$/, '.ts')),
    );
    expect(bridgeImports.filter((module) => !helpers.has(module))).toEqual([]);
    expect(bridgeImports.length).toBeGreaterThan(0);
  });

  it('firmware/ imports only protocol/ and itself (it runs on the terminal)', () => {
    expect(violations('firmware', (t) => !['bridge', 'simulator', 'cli', 'tests', 'bench'].includes(t))).toEqual([]);
  });

  it('simulator/ never imports the CLI', () => {
    expect(violations('simulator', (t) => !['cli', 'tests', 'bench'].includes(t))).toEqual([]);
  });

  it('finds imports at all (the check above is not vacuous)', () => {
    expect(importsOf('cli/main.ts').some((spec) => spec.startsWith('../bridge/'))).toBe(true);
    expect(target('cli/start.ts', '../simulator/hall.js')).toBe('simulator');
  });
});
