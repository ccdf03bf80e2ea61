import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';

/** A page's file: its name in the page's folder and its content type. */
export type StaticFile = { file: string; type: string };

export const HTML = 'text/html; charset=utf-8';
export const JS = 'text/javascript; charset=utf-8';
export const CSS = 'text/css; charset=utf-8';

/**
 * A page's fixed files (the staff console, the customer screen), served by the bridge itself so
 * that the window needs no internet: read once, then from memory. The answer serves `path` and
 * says true, or says false when the path is not one of them.
 */
export function staticFiles(dir: URL, files: Record<string, StaticFile>): (path: string, res: ServerResponse) => boolean {
  const cache = new Map<string, Buffer>();
  return (path, res) => {
    const entry = Object.hasOwn(files, path) ? files[path] : undefined;
    if (!entry) return false;
    let body = cache.get(entry.file);
    if (!body) {
      body = readFileSync(new URL(entry.file, dir));
      cache.set(entry.file, body);
    }
    res.writeHead(200, { 'content-type': entry.type, 'content-length': body.length, 'cache-control': 'no-cache' });
    res.end(body);
    return true;
  };
}
