// One import in its own process, from the build in dist/ (what the app and the CLI run):
//   node bench/import/child.mjs <folder> <db> <thumbDir> <dataset>
// Prints one JSON line: the summary, the seconds spent in importFolders, the process's peak RSS and CPU time
// (all threads). CURIO_BENCH_IN_PROCESS=1 decodes on the main thread instead of the worker pool.
import { Catalog } from '../../dist/main/catalog/catalog.js';
import { importFolders } from '../../dist/main/ingest/import.js';

const [folder, dbPath, thumbnailDir, dataset] = process.argv.slice(2);
if (!folder || !dbPath || !thumbnailDir || !dataset) {
  process.stderr.write('usage: child.mjs <folder> <db> <thumbDir> <dataset>\n');
  process.exit(2);
}

const ctx = {
  jobId: 'bench',
  signal: new AbortController().signal,
  throwIfCancelled() {},
  setPhase() {},
  setTotal() {},
  progress() {},
};

const catalog = Catalog.open(dbPath);
const useWorkers = process.env.CURIO_BENCH_IN_PROCESS === '1' ? false : undefined;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const summary = await importFolders(catalog, { folders: [folder], dataset, labelsFromFolders: true, thumbnailDir, useWorkers }, ctx);
const importSeconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
catalog.close();
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({ summary, importSeconds, maxRssMiB: usage.maxRSS / 1024, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`,
);
