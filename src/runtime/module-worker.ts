import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a Worker on an ES module. A TypeScript entry (development, tests, benchmarks)
 * is loaded through tsx's loader registered inside the new isolate; a JavaScript entry
 * (a built image) starts directly.
 *
 * @example
 * ```ts
 * const w = startModuleWorker(new URL('./echo-worker.ts', import.meta.url), { workerData: { sab } });
 * ```
 */
export function startModuleWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  // Resolve tsx from this package, not from the current directory; take its ESM build.
  const tsxCjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const tsxEsm = pathToFileURL(tsxCjs.replace(/index\.cjs$/, 'index.mjs')).href;
  const bootstrap =
    `import { register } from ${JSON.stringify(tsxEsm)};\n` +
    `register();\n` +
    `await import(${JSON.stringify(entry.href)});\n`;
  return new Worker(bootstrap, { ...options, eval: true });
}
