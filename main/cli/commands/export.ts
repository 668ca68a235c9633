import type { ExportResult } from '../../../shared/contract/curate-versions.js';
import { exportDataset, parseExportOptions } from '../../curate/export-dataset.js';
import { CurioError } from '../../common/errors.js';
import { createServices } from '../../services.js';
import { parse, requireString, UsageError } from '../args.js';
import { attachProgress, cancelOnSigint, Output } from '../output.js';
import type { Command } from '../command.js';

export const exportCommand: Command = {
  name: 'export',
  usage: 'curio export --dataset NAME --format csv|json|copy|symlink --out DIR [--force] [--db FILE] [--json]',
  summary: 'Export a dataset version as a manifest (path, label, sha256, width, height) or a copied/symlinked folder with label subfolders',
  async run(argv) {
    const { values } = parse(argv, {
      dataset: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
    });
    let options;
    try {
      options = parseExportOptions({
        dataset: requireString(values.dataset, 'dataset'),
        format: requireString(values.format, 'format'),
        out: requireString(values.out, 'out'),
        force: values.force,
      });
    } catch (err) {
      if (err instanceof CurioError && !(err instanceof UsageError)) throw new UsageError(`--${err.message}`);
      throw err;
    }
    const out = new Output(values.json);
    const services = createServices({ dbPath: values.db, mode: 'browser' });
    const detach = attachProgress(services.bus);
    try {
      const { jobId, promise } = services.jobs.start('export', (ctx) => exportDataset(services.catalog, options, ctx));
      const stopSigint = cancelOnSigint(() => services.jobs.cancel(jobId));
      const r: ExportResult = await promise.finally(stopSigint);
      detach();
      out.result(r, () => `exported ${r.written} images of "${r.dataset}" as ${r.format} to ${r.manifest ?? r.out}`);
      return 0;
    } finally {
      detach();
      services.close();
    }
  },
};
