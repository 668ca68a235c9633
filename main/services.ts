import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Catalog } from './catalog/catalog.js';
import { EventBus } from './common/event-bus.js';
import { JobManager } from './common/jobs.js';
import { defaultDbPath, thumbnailDirFor } from './common/paths.js';
import { RunManager } from './train/runs/runner.js';

export type AppMode = 'electron' | 'browser';

/** Everything a transport needs to answer the contract: one catalog, one job manager, one event bus. */
export interface Services {
  readonly catalog: Catalog;
  readonly jobs: JobManager;
  readonly bus: EventBus;
  readonly thumbnailDir: string;
  readonly mode: AppMode;
  readonly version: string;
  /** pretraining runs; created on first use */
  readonly runs: RunManager;
  close(): void;
}

export function appVersion(): string {
  const require = createRequire(import.meta.url);
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (require(rel) as { version: string }).version;
    } catch {
      // compiled output sits one folder deeper than the sources
    }
  }
  return '0.0.0';
}

export function createServices(options: { dbPath?: string | undefined; mode: AppMode }): Services {
  const dbPath = options.dbPath ?? defaultDbPath();
  const catalog = Catalog.open(dbPath);
  const bus = new EventBus();
  const jobs = new JobManager(bus);
  const thumbnailDir = dbPath === ':memory:' ? fs.mkdtempSync('/tmp/curio-thumbs-') : thumbnailDirFor(catalog.path);
  let runs: RunManager | null = null;
  const services: Services = {
    catalog,
    jobs,
    bus,
    thumbnailDir,
    mode: options.mode,
    version: appVersion(),
    get runs() {
      runs ??= new RunManager(services);
      return runs;
    },
    close() {
      jobs.cancelAll();
      catalog.close();
    },
  };
  return services;
}
