import type { ImportSummary } from '../../../shared/contract/datasets.js';
import { DatasetName } from '../../../shared/contract/common.js';
import { importFolders, resolveImportFolders } from '../../ingest/import.js';
import { createServices } from '../../services.js';
import { parse, UsageError } from '../args.js';
import { attachProgress, cancelOnSigint, Output } from '../output.js';
import type { Command } from '../command.js';

/** 128 + SIGINT, as a shell reports a command stopped by Ctrl-C. */
const EXIT_CANCELLED = 130;

export const importCommand: Command = {
  name: 'import',
  usage: 'curio import <folder…> [--db FILE] [--dataset NAME] [--labels-from-folders] [--max-pixels N] [--json]',
  summary: 'Import image folders into a dataset (thumbnails, hashes, labels); re-import skips unchanged files',
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { dataset: { type: 'string' }, 'labels-from-folders': { type: 'boolean', default: false }, 'max-pixels': { type: 'string' } },
      true,
    );
    if (positionals.length === 0) throw new UsageError('give at least one folder to import');
    const folders = resolveImportFolders(positionals);
    const datasetName = values.dataset ?? defaultDatasetName(folders[0]!);
    const parsedName = DatasetName.safeParse(datasetName);
    if (!parsedName.success) throw new UsageError(`bad --dataset: ${parsedName.error.issues[0]?.message}`);
    const maxPixels = values['max-pixels'] === undefined ? undefined : Number(values['max-pixels']);
    if (maxPixels !== undefined && !(maxPixels > 0)) throw new UsageError('--max-pixels must be a positive number');
    const out = new Output(values.json);
    const services = createServices({ dbPath: values.db, mode: 'browser' });
    const detach = attachProgress(services.bus);
    try {
      const { jobId, promise } = services.jobs.start('import', (ctx) =>
        importFolders(
          services.catalog,
          {
            folders,
            dataset: parsedName.data,
            labelsFromFolders: values['labels-from-folders'],
            thumbnailDir: services.thumbnailDir,
            ...(maxPixels !== undefined ? { maxPixels } : {}),
          },
          ctx,
        ),
      );
      const stopSigint = cancelOnSigint(() => services.jobs.cancel(jobId));
      const summary: ImportSummary = await promise.finally(stopSigint);
      detach();
      out.result(summary, () => renderSummary(summary));
      // A cancelled run kept its work but did not finish: scripts must not mistake it for a complete import.
      return summary.cancelled ? EXIT_CANCELLED : 0;
    } finally {
      detach();
      services.close();
    }
  },
};

function defaultDatasetName(folder: string): string {
  return folder.split(/[\\/]/).filter(Boolean).pop() ?? 'dataset';
}

function renderSummary(s: ImportSummary): string {
  const rate = s.seconds > 0 ? ` (${((s.imported + s.failed) / s.seconds).toFixed(0)} files/s)` : '';
  return [
    `dataset  ${s.dataset}${s.cancelled ? ' (cancelled; run again to finish)' : ''}`,
    `imported ${s.imported}`,
    `skipped  ${s.skipped} unchanged`,
    `failed   ${s.failed}`,
    `missing  ${s.missing}`,
    `seconds  ${s.seconds.toFixed(1)}${rate}`,
  ].join('\n');
}
