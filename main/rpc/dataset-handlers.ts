import os from 'node:os';
import type { Services } from '../services.js';
import { importFolders, resolveImportFolders } from '../ingest/import.js';
import { splitDataset } from '../catalog/split.js';
import type { HandlerGroup } from './types.js';

type DatasetRequest =
  | 'app.info'
  | 'app.pickFolders'
  | 'datasets.list'
  | 'datasets.get'
  | 'datasets.delete'
  | 'datasets.import'
  | 'datasets.split'
  | 'images.list'
  | 'images.get'
  | 'images.labels'
  | 'images.failures'
  | 'jobs.list'
  | 'jobs.cancel';

export function datasetHandlers(s: Services): HandlerGroup<DatasetRequest> {
  return {
    'app.info': () => ({ version: s.version, mode: s.mode, dbPath: s.catalog.path, cores: os.availableParallelism() }),
    // The Electron shell replaces this with the native dialog (see createHandlers' overrides).
    'app.pickFolders': () => ({ supported: false, paths: [] }),
    'datasets.list': () => s.catalog.listDatasets(),
    'datasets.get': ({ datasetId }) => s.catalog.getDataset(datasetId),
    'datasets.delete': ({ datasetId }) => {
      const deleted = s.catalog.deleteDataset(datasetId);
      if (deleted) s.bus.emit('onDidChangeDatasets', { datasetId });
      return { deleted };
    },
    'datasets.import': ({ paths, dataset, labelsFromFolders }) => {
      const folders = resolveImportFolders(paths);
      const { jobId, promise } = s.jobs.start('import', (ctx) =>
        importFolders(s.catalog, { folders, dataset, labelsFromFolders, thumbnailDir: s.thumbnailDir }, ctx),
      );
      promise.then(
        (summary) => s.bus.emit('onDidChangeDatasets', { datasetId: summary.datasetId }),
        () => s.bus.emit('onDidChangeDatasets', { datasetId: null }),
      );
      return { jobId };
    },
    'datasets.split': ({ dataset, into, seed }) => {
      const result = splitDataset(s.catalog, dataset, into, seed);
      s.bus.emit('onDidChangeDatasets', { datasetId: null });
      return result;
    },
    'images.list': (q) => s.catalog.listImages(q),
    'images.get': ({ imageId }) => s.catalog.getImage(imageId),
    'images.labels': ({ datasetId }) => s.catalog.labels(datasetId),
    'images.failures': ({ datasetId, limit }) => s.catalog.failures(datasetId, limit),
    'jobs.list': () => s.jobs.list(),
    'jobs.cancel': ({ jobId }) => ({ cancelled: s.jobs.cancel(jobId) }),
  };
}
