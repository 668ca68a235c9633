import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread on the module `moduleUrl` names by its built name (`x.js`). From dist/ that file exists
 * and runs as it is. From the TypeScript sources (tsx, vitest) only `x.ts` exists: a one-line boot script
 * registers tsx's ESM loader inside the new thread first, since Node 20 ignores `--import tsx` in a worker's
 * execArgv.
 */
export function spawnWorker(moduleUrl: URL, workerData?: unknown): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const options = workerData === undefined ? {} : { workerData };
  if (!fromSource) return new Worker(moduleUrl, options);
  const pkgJson = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const tsxApi = pathToFileURL(path.join(path.dirname(pkgJson), pkg.exports['./esm/api']!.import.default)).href;
  const entry = moduleUrl.href.replace(/\.js$/, '.ts');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, ...options });
}
