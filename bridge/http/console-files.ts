import { CSS, HTML, JS, staticFiles } from './static-files.js';

/** The staff console's files; false when the path is not one (the API answers then). */
export const serveConsole = staticFiles(new URL('../console/', import.meta.url), {
  '/': { file: 'index.html', type: HTML },
  '/console.js': { file: 'console.js', type: JS },
  '/console.css': { file: 'console.css', type: CSS },
});
