import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';

/** The staff console's files, served by the bridge itself: the window PC needs no internet. */
const CONSOLE_DIR = new URL('../console/', import.meta.url);
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
};
const cache = new Map<string, Buffer>();

/** Serves a console file for `path`; false when the path is not one (the API answers then). */
export function serveConsole(path: string, res: ServerResponse): boolean {
  const entry = FILES[path];
  if (!entry) return false;
  let body = cache.get(entry.file);
  if (!body) {
    body = readFileSync(new URL(entry.file, CONSOLE_DIR));
    cache.set(entry.file, body);
  }
  res.writeHead(200, { 'content-type': entry.type, 'content-length': body.length, 'cache-control': 'no-cache' });
  res.end(body);
  return true;
}
