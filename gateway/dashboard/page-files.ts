import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { SECURITY_HEADERS } from './answers.js';

/*
 * The dashboard's own files (gateway/dashboard/page/, copied beside the compiled code by
 * `npm run build`) and Apache ECharts from the installed package: a hall's network may have no
 * internet, so nothing comes from a CDN. Read once, kept in memory (ECharts also gzipped once:
 * a megabyte over a slow hall link otherwise).
 */

const PAGE_DIR = new URL('./page/', import.meta.url);

interface PageFile {
  read: () => Buffer;
  type: string;
  /** Seconds a browser may keep it: the page itself is never kept (a new version shows at once). */
  maxAge: number;
}

const FILES: Record<string, PageFile> = {
  '/': { read: () => readFileSync(new URL('index.html', PAGE_DIR)), type: 'text/html; charset=utf-8', maxAge: 0 },
  '/dashboard.js': { read: () => readFileSync(new URL('dashboard.js', PAGE_DIR)), type: 'text/javascript; charset=utf-8', maxAge: 0 },
  '/dashboard.css': { read: () => readFileSync(new URL('dashboard.css', PAGE_DIR)), type: 'text/css; charset=utf-8', maxAge: 0 },
  '/vendor/echarts.min.js': { read: () => readFileSync(echartsPath()), type: 'text/javascript; charset=utf-8', maxAge: 86_400 },
};

/** Where npm installed ECharts' browser bundle (resolved as Node resolves the package). */
export function echartsPath(): string {
  return createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js');
}

const cache = new Map<string, { plain: Buffer; gzipped: Buffer }>();

/** Whether `path` is one of the page's files. */
export function isPageFile(path: string): boolean {
  return Object.hasOwn(FILES, path);
}

/** Answers GET/HEAD of a page file (isPageFile(path) checked first). */
export function servePageFile(path: string, req: IncomingMessage, res: ServerResponse): void {
  const entry = FILES[path]!;
  let body = cache.get(path);
  if (!body) {
    const plain = entry.read();
    body = { plain, gzipped: gzipSync(plain) };
    cache.set(path, body);
  }
  const gzip = /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
  const sent = gzip ? body.gzipped : body.plain;
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': entry.type,
    'content-length': sent.length,
    'cache-control': entry.maxAge > 0 ? `private, max-age=${entry.maxAge}` : 'no-cache',
    vary: 'accept-encoding',
    ...(gzip && { 'content-encoding': 'gzip' }),
  });
  res.end(req.method === 'HEAD' ? undefined : sent);
}
