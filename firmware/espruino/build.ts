/**
 * Builds the Espruino terminal (main.ts, the core, the protocol) into one ES5 file that stock
 * Espruino firmware can run: dist/espruino/terminal.js. Run with `npm run build:espruino`; see
 * docs/espruino.md.
 *
 * 1. esbuild bundles the TypeScript into one script, with `zod` swapped for zod-subset.ts and
 *    protocol/issues.ts for issues-subset.ts.
 * 2. Babel (preset-env) lowers it to ES5: Espruino has no destructuring, spread, default or rest
 *    parameters, for…of, block scoping (let/const are parsed but are `var`), or generators.
 * 3. esbuild minifies the ES5 (with an ES5 target it adds no newer syntax).
 * 4. acorn parses the result as ES5: anything newer fails the build.
 * 5. The same terminal built for Espruino's interpreter for Linux with a Pico's 5,100 variables
 *    (target 'linux', linux-board.ts as its board port) runs from flash through its busiest
 *    moments (measure.ts); more variables in use than VARIABLE_BUDGET fails the build.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { transformAsync, types as t, type PluginObj } from '@babel/core';
import { parse } from 'acorn';
import * as esbuild from 'esbuild';
import { JOURNAL_LIMIT } from './config.js';
import { measureVariables, type VariableFigures } from './measure.js';
import { espruinoBinary, ESPRUINO_VARIABLES } from './shared-tools.js';

const here = dirname(fileURLToPath(import.meta.url));
export const ENTRY = join(here, 'main.ts');
export const DEFAULT_OUTFILE = resolve(here, '../../dist/espruino/terminal.js');
/** The test build for Espruino's interpreter built for Linux (linux-board.ts in place of board.ts). */
export const DEFAULT_LINUX_OUTFILE = resolve(here, '../../dist/espruino/terminal-linux.js');
const ZOD_SUBSET = join(here, 'zod-subset.ts');
const LINUX_BOARD = join(here, 'linux-board.ts');
const ISSUES_SUBSET = join(here, 'issues-subset.ts');

/**
 * Most variables the terminal may have in use at its busiest moment on an Espruino Pico (5,100
 * variables of 16 bytes), measured on the interpreter built for Linux with a Pico's memory. The
 * rest (1,000) is the board's: its own modules, the REPL, the serial buffers' overflow, a user's
 * fix typed at the console; do not raise it without measuring on a board.
 */
export const VARIABLE_BUDGET = 4100;

/**
 * Set to 1 by a developer without the shared tools (no interpreter): the build then skips the
 * measurement, says so loudly, and nothing checks the budget. CI never sets it.
 */
export const UNMEASURED_ENV = 'HCP_ESPRUINO_UNMEASURED';

/** Built-ins stock Espruino does not have (https://www.espruino.com/Features); polyfills.ts brings those the bundle needs. */
export const ESPRUINO_MISSING_GLOBALS = ['Map', 'Set', 'WeakMap', 'WeakSet', 'Symbol', 'Proxy', 'Reflect', 'globalThis'] as const;

/** The device checks frames with the same protocol schemas as the bridge, through zod-subset.ts instead of zod. */
export const zodSubset: esbuild.Plugin = {
  name: 'zod-subset',
  setup(build) {
    build.onResolve({ filter: /^zod$/ }, () => ({ path: ZOD_SUBSET }));
  },
};

/** The device words its naks with issues-subset.ts: protocol/issues.ts's union analysis costs ~1 KB. */
const issuesSubset: esbuild.Plugin = {
  name: 'issues-subset',
  setup(build) {
    build.onResolve({ filter: /^\.\/issues\.js$/ }, (args) => (args.importer.endsWith(join('protocol', 'link.ts')) ? { path: ISSUES_SUBSET } : undefined));
  },
};

/** `board`: the file for a board. `linux`: the same terminal with linux-board.ts as its board port, for the interpreter built for Linux. */
export type EspruinoTarget = 'board' | 'linux';

/** The test build's board port: the pins printed and pressed on the console, the line on a pty (linux-board.ts). */
const linuxBoard: esbuild.Plugin = {
  name: 'linux-board',
  setup(build) {
    build.onResolve({ filter: /^\.\/board\.js$/ }, (args) => (args.importer === ENTRY ? { path: LINUX_BOARD } : undefined));
  },
};

async function bundle(target: EspruinoTarget, entry: string): Promise<{ code: string; inputs: { path: string; bytes: number }[] }> {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    // Nothing is lowered here: Babel does all of it, in one place.
    target: 'esnext',
    // Espruino's own module, loaded at run time by its require().
    external: ['Storage'],
    plugins: target === 'linux' ? [zodSubset, issuesSubset, linuxBoard] : [zodSubset, issuesSubset],
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs)[0];
  const inputs = Object.entries(output?.inputs ?? {})
    .map(([path, info]) => ({ path, bytes: info.bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return { code: result.outputFiles[0]?.text ?? '', inputs };
}

async function lowerToEs5(code: string): Promise<string> {
  const result = await transformAsync(code, {
    babelrc: false,
    configFile: false,
    sourceType: 'script',
    presets: [
      [
        '@babel/preset-env',
        {
          // Every transform down to ES5, whatever browserslist would say: Espruino is no browser.
          forceAllTransforms: true,
          modules: false,
          // typeof never meets a symbol where Symbol is a polyfill of strings; the helper is dead weight.
          exclude: ['transform-typeof-symbol'],
        },
      ],
    ],
    // Smaller helpers; each holds for this code (TypeScript checks it) and none is observable on a board.
    assumptions: {
      setPublicClassFields: true,
      setClassMethods: true,
      noClassCalls: true,
      constantSuper: true,
      superIsCallableConstructor: true,
      objectRestNoSymbols: true,
      setSpreadProperties: true,
      ignoreToPrimitiveHint: true,
      noDocumentAll: true,
      skipForOfIteratorClosing: true,
    },
  });
  if (!result?.code) throw new Error('Babel produced no code');
  return keepPrototypes(result.code);
}

/**
 * Babel's `_createClass` ends with `Object.defineProperty(C, "prototype", { writable: false })`
 * (spec: a class's prototype is read-only). Espruino's defineProperty given a descriptor without
 * `value` replaces the property with `undefined`-valued data, so every class built through the
 * helper (those with a getter) loses all its methods: `Function "start" not found!` on the real
 * interpreter, while Node's vm runs it fine. The read-only prototype is not observable by this
 * code, so the call is dropped. A second pass, because the helper is injected after the plugins
 * of the first pass have walked the program.
 */
const dropReadOnlyPrototype: PluginObj = {
  name: 'drop-read-only-prototype',
  visitor: {
    CallExpression(path) {
      const { callee, arguments: args } = path.node;
      const [, key, descriptor] = args;
      if (!t.isMemberExpression(callee) || !t.matchesPattern(callee, 'Object.defineProperty')) return;
      if (!t.isStringLiteral(key, { value: 'prototype' }) || !t.isObjectExpression(descriptor)) return;
      const onlyWritable = descriptor.properties.every((p) => t.isObjectProperty(p) && t.isIdentifier(p.key, { name: 'writable' }));
      if (!onlyWritable) return;
      if (!path.parentPath.isSequenceExpression() && !path.parentPath.isExpressionStatement()) {
        throw new Error(`Object.defineProperty(…, "prototype", { writable }) where its value is used: cannot drop it (${path.toString()})`);
      }
      path.remove();
    },
  },
};

async function keepPrototypes(code: string): Promise<string> {
  const result = await transformAsync(code, { babelrc: false, configFile: false, sourceType: 'script', plugins: [dropReadOnlyPrototype] });
  if (!result?.code) throw new Error('Babel produced no code');
  if (/defineProperty\([^,]+,\s*"prototype"/.test(result.code)) throw new Error('a read-only prototype is still defined (see dropReadOnlyPrototype)');
  return result.code;
}

async function minify(code: string): Promise<string> {
  const result = await esbuild.transform(code, { minify: true, target: 'es5', legalComments: 'none', logLevel: 'silent' });
  return result.code;
}

/** Throws, saying where, if `code` is not ES5 (Espruino parses ES5 plus a few ES6 forms; ES5 is what we promise). */
export function assertEs5(code: string, name = 'bundle'): void {
  try {
    parse(code, { ecmaVersion: 5, sourceType: 'script' });
  } catch (error) {
    throw new Error(`${name} is not ES5: ${(error as Error).message}`, { cause: error });
  }
}

export interface EspruinoBuild {
  outfile: string;
  bytes: number;
  gzipBytes: number;
  /** Bytes of each input in the bundle before lowering and minifying, largest first. */
  inputs: { path: string; bytes: number }[];
}

export interface EspruinoBuildOptions {
  /** Default `board`. */
  target?: EspruinoTarget;
  /** Default dist/espruino/terminal.js for a board, terminal-linux.js for Linux. */
  outfile?: string;
  /** Default main.ts (the terminal); a test may build a small driver of its own the same way. */
  entry?: string;
}

export async function buildEspruino({ target = 'board', outfile = target === 'board' ? DEFAULT_OUTFILE : DEFAULT_LINUX_OUTFILE, entry = ENTRY }: EspruinoBuildOptions = {}): Promise<EspruinoBuild> {
  const bundled = await bundle(target, entry);
  const code = await minify(await lowerToEs5(bundled.code));
  assertEs5(code, outfile);
  const bytes = Buffer.byteLength(code);
  mkdirSync(dirname(outfile), { recursive: true });
  writeFileSync(outfile, code);
  return { outfile, bytes, gzipBytes: gzipSync(code).length, inputs: bundled.inputs };
}

/** Throws if the busiest moment uses more than `budget` variables. */
export function checkVariableBudget(figures: VariableFigures, budget = VARIABLE_BUDGET): void {
  const most = Math.max(figures.afterStart, figures.busiest, figures.replay);
  if (most > budget) {
    throw new Error(`${most} variables in use on a Pico's memory, over the ${budget}-variable budget (VARIABLE_BUDGET in firmware/espruino/build.ts): see docs/espruino.md before raising it`);
  }
}

async function measure(): Promise<void> {
  if (process.env[UNMEASURED_ENV] === '1') {
    console.warn(`\n!!! ${UNMEASURED_ENV}=1: the terminal was NOT run on Espruino's interpreter; its variables are unmeasured and the ${VARIABLE_BUDGET}-variable budget is NOT checked !!!\n`);
    return;
  }
  const binary = espruinoBinary('pico');
  const linux = await buildEspruino({ target: 'linux' });
  const figures = await measureVariables(readFileSync(linux.outfile, 'latin1'), binary);
  const n = (v: number): string => v.toLocaleString('en');
  console.log(
    `variables in use on ${binary} (${n(ESPRUINO_VARIABLES.pico)}): after start ${n(figures.afterStart)}, busiest ${n(figures.busiest)} ` +
      `(paired, ${JOURNAL_LIMIT} reports unacknowledged, reasons open), journal replay ${n(figures.replay)} (${n(figures.replayMs)} ms here); budget ${n(VARIABLE_BUDGET)}`,
  );
  checkVariableBudget(figures);
}

async function main(): Promise<void> {
  const build = await buildEspruino();
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
  console.log(`${build.outfile}: ${kb(build.bytes)} (${kb(build.gzipBytes)} gzipped), ES5`);
  await measure();
  const byPackage: Record<string, number> = {};
  for (const input of build.inputs) {
    const key = input.path.includes('node_modules/') ? input.path.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1') : input.path.split('/').slice(0, -1).join('/') || input.path;
    byPackage[key] = (byPackage[key] ?? 0) + input.bytes;
  }
  console.log('  before lowering and minifying:');
  for (const [key, bytes] of Object.entries(byPackage).sort((a, b) => b[1] - a[1])) console.log(`  ${kb(bytes).padStart(9)}  ${key}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
