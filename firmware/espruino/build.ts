/**
 * Bundles the Espruino terminal (main.ts, the core, the protocol and zod) into one file:
 * dist/espruino/terminal.js. Run with `npm run build:espruino`; see docs/espruino.md.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const ENTRY = join(here, 'main.ts');
export const DEFAULT_OUTFILE = resolve(here, '../../dist/espruino/terminal.js');

/**
 * esbuild's target. Espruino 2v2x parses arrow functions, classes (with getters), template
 * literals and let/const, and has Promise; esbuild cannot lower code below ES2015 anyway (it does
 * not transform classes, let/const, for-of or destructuring), so ES2015 is the floor. It lowers
 * what ES2016+ added (`**`, async, `?.`, `??`, object spread, class fields, optional catch binding).
 */
export const TARGET = 'es2015';

/** Syntax Espruino does not implement (https://www.espruino.com/Features), as esbuild names it. */
const ESPRUINO_UNSUPPORTED_SYNTAX = [
  'const-and-let',
  'destructuring',
  'default-argument',
  'rest-argument',
  'array-spread',
  'for-of',
  'object-extensions',
  'generator',
] as const;

/** Built-ins Espruino does not have, which no bundler can lower. */
const ESPRUINO_MISSING_GLOBALS = ['Map', 'Set', 'WeakMap', 'WeakSet', 'Symbol', 'Proxy', 'Reflect', 'globalThis'] as const;

/**
 * `import { z } from 'zod'` makes esbuild keep zod's whole `z` namespace object, every locale
 * included (~456 KB minified); `import * as z from 'zod'` is the same module namespace (zod's
 * index re-exports everything `z` holds) but lets esbuild drop what is never used (~90 KB). The
 * protocol files use the first form; this rewrites it, for this bundle only, in files under protocol/.
 */
const zodNamespaceImport: esbuild.Plugin = {
  name: 'zod-namespace-import',
  setup(build) {
    build.onLoad({ filter: /[\\/]protocol[\\/][^\\/]+\.ts$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      const source = await readFile(args.path, 'utf8');
      return { contents: source.replace(/^import \{ z \} from 'zod';$/m, "import * as z from 'zod';"), loader: 'ts' };
    });
  },
};

const options = (outfile: string): esbuild.BuildOptions => ({
  entryPoints: [ENTRY],
  outfile,
  bundle: true,
  format: 'iife',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  target: TARGET,
  minify: true,
  legalComments: 'none',
  // Espruino's own module, loaded at run time by its require().
  external: ['Storage'],
  plugins: [zodNamespaceImport],
  logLevel: 'silent',
});

export interface EspruinoBuild {
  outfile: string;
  bytes: number;
  gzipBytes: number;
  /** Bytes of each input in the bundle, largest first. */
  inputs: { path: string; bytes: number }[];
}

export async function buildEspruino(outfile = DEFAULT_OUTFILE): Promise<EspruinoBuild> {
  mkdirSync(dirname(outfile), { recursive: true });
  const result = await esbuild.build({ ...options(outfile), metafile: true, write: true });
  const output = Object.values(result.metafile.outputs)[0];
  const inputs = Object.entries(output?.inputs ?? {})
    .map(([path, info]) => ({ path, bytes: info.bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(outfile);
  return { outfile, bytes: text.length, gzipBytes: gzipSync(text).length, inputs };
}

export interface DialectReport {
  /** Constructs esbuild would have to lower for Espruino but cannot, by kind. */
  unlowerable: Record<string, number>;
  /** Built-ins the bundle refers to that Espruino lacks. */
  missingGlobals: string[];
}

/** What stands between the bundle and stock Espruino firmware: reported, not enforced. */
export async function checkEspruinoDialect(bundleText: string): Promise<DialectReport> {
  const unlowerable: Record<string, number> = {};
  try {
    await esbuild.build({
      ...options('unused.js'),
      write: false,
      supported: Object.fromEntries(ESPRUINO_UNSUPPORTED_SYNTAX.map((feature) => [feature, false])),
    });
  } catch (error) {
    for (const message of (error as esbuild.BuildFailure).errors ?? []) {
      const kind = /^Transforming (.+?) to the configured target/.exec(message.text)?.[1] ?? message.text;
      unlowerable[kind] = (unlowerable[kind] ?? 0) + 1;
    }
  }
  const missingGlobals = ESPRUINO_MISSING_GLOBALS.filter((name) => new RegExp(`\\b${name}\\b`).test(bundleText));
  return { unlowerable, missingGlobals };
}

async function main(): Promise<void> {
  const build = await buildEspruino();
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
  console.log(`${build.outfile}: ${kb(build.bytes)} (${kb(build.gzipBytes)} gzipped), target ${TARGET}`);
  const byPackage: Record<string, number> = {};
  for (const input of build.inputs) {
    const key = input.path.includes('node_modules/') ? input.path.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1') : input.path.split('/').slice(0, -1).join('/') || input.path;
    byPackage[key] = (byPackage[key] ?? 0) + input.bytes;
  }
  for (const [key, bytes] of Object.entries(byPackage).sort((a, b) => b[1] - a[1])) console.log(`  ${kb(bytes).padStart(9)}  ${key}`);
  const { readFileSync } = await import('node:fs');
  const dialect = await checkEspruinoDialect(readFileSync(build.outfile, 'utf8'));
  const blockers = Object.entries(dialect.unlowerable).map(([kind, n]) => `${kind} ×${n}`);
  if (blockers.length > 0 || dialect.missingGlobals.length > 0) {
    console.log('Espruino dialect check (https://www.espruino.com/Features), over the bundled sources before tree-shaking; esbuild cannot lower these:');
    if (blockers.length > 0) console.log(`  syntax: ${blockers.join(', ')}`);
    if (dialect.missingGlobals.length > 0) console.log(`  built-ins used that Espruino lacks: ${dialect.missingGlobals.join(', ')}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
