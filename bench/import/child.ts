// One import in its own process: `child.ts <folder> <db> <thumbDir> <dataset>`. Prints one JSON line with the
// summary, the seconds spent in importFolders, the process's peak RSS and CPU time.
import { Catalog } from '../../main/catalog/catalog.js';
import type { JobContext } from '../../main/common/jobs.js';
import { importFolders } from '../../main/ingest/import.js';

const [folder, dbPath, thumbnailDir, dataset] = process.argv.slice(2);
if (!folder || !dbPath || !thumbnailDir || !dataset) {
  process.stderr.write('usage: child.ts <folder> <db> <thumbDir> <dataset>\n');
  process.exit(2);
}

const controller = new AbortController();
const ctx: JobContext = {
  jobId: 'bench',
  signal: controller.signal,
  throwIfCancelled() {},
  setPhase() {},
  setTotal() {},
  progress() {},
};

const catalog = Catalog.open(dbPath);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const summary = await importFolders(catalog, { folders: [folder], dataset, labelsFromFolders: true, thumbnailDir }, ctx);
const importSeconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
catalog.close();
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({ summary, importSeconds, maxRssMiB: usage.maxRSS / 1024, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`,
);
