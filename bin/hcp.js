#!/usr/bin/env node
// The `hcp` command. Installed, it runs the compiled CLI (npm run build); in a checkout without a
// build (`npx hcp` after `npm ci`), it runs the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(fileURLToPath(compiled))) {
  await import(compiled.href);
} else {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    console.error('hcp: this checkout is not installed yet: run `npm ci` in it first (or `npm run build` for the compiled CLI)');
    process.exit(2);
  }
  tsx.register();
  await import(new URL('../cli/main.ts', import.meta.url).href);
}
