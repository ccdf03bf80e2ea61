import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread running the ES module at `module` (a URL beside the caller's own file). Run from
 * the TypeScript sources (tsx: `npm start`, the tests, the benchmarks), the module is a .ts file,
 * and Node 20 does not pass tsx's loader to a worker: the worker registers it before importing.
 * Compiled (dist/), it is a .js file imported as it is.
 */
export function startModuleWorker(module: URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  const load = `import(${JSON.stringify(module.href)})`;
  const boot = module.pathname.endsWith('.ts') ? `import('tsx/esm/api').then(({ register }) => { register(); return ${load}; });` : load;
  return new Worker(boot, { ...options, eval: true });
}

/** `name` (without extension) beside `here` (a module's import.meta.url), in the same language as `here`. */
export function siblingModule(here: string, name: string): URL {
  return new URL(`./${name}${here.endsWith('.ts') ? '.ts' : '.js'}`, here);
}
