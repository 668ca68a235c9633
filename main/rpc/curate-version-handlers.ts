import path from 'node:path';
import { invalid } from '../common/errors.js';
import type { JobContext } from '../common/jobs.js';
import type { Services } from '../services.js';
import { parseBalanceOptions, parseRetrieveOptions, runBalance, runRetrieve } from '../curate/balance.js';
import { parseDecontaminateOptions, runDecontaminate } from '../curate/decontaminate.js';
import { checkEncoderSpec } from '../curate/encoders.js';
import { exportDataset, parseExportOptions } from '../curate/export-dataset.js';
import type { HandlerGroup } from './types.js';

type CurateVersionRequest = 'curate.decontaminate' | 'curate.balance' | 'curate.retrieve' | 'curate.export';

export function curateVersionHandlers(s: Services): HandlerGroup<CurateVersionRequest> {
  /** Starts a curation job; a version it applied is announced so dataset lists refresh. */
  const start = <R extends object>(kind: 'curate' | 'export', work: (ctx: JobContext) => Promise<R>) => {
    const { jobId, promise } = s.jobs.start(kind, work);
    promise.then(
      (result) => {
        const applied = 'applied' in result ? (result.applied as { datasetId: number } | null) : null;
        if (applied) s.bus.emit('onDidChangeDatasets', { datasetId: applied.datasetId });
      },
      () => undefined,
    );
    return { jobId };
  };
  return {
    'curate.decontaminate': (input) => {
      const options = parseDecontaminateOptions(input);
      // Fail at once, before a job starts, on a dataset that is not there.
      s.catalog.datasetIdByName(options.dataset);
      s.catalog.datasetIdByName(options.against);
      checkEncoderSpec(s.catalog, options.encoder, { absolute: true });
      return start('curate', (ctx) => runDecontaminate(s.catalog, options, ctx));
    },
    'curate.balance': (input) => {
      const options = parseBalanceOptions(input);
      s.catalog.datasetIdByName(options.dataset);
      checkEncoderSpec(s.catalog, options.encoder, { absolute: true });
      return start('curate', (ctx) => runBalance(s.catalog, options, ctx));
    },
    'curate.retrieve': (input) => {
      const options = parseRetrieveOptions(input);
      s.catalog.datasetIdByName(options.dataset);
      s.catalog.datasetIdByName(options.seedDataset);
      checkEncoderSpec(s.catalog, options.encoder, { absolute: true });
      return start('curate', (ctx) => runRetrieve(s.catalog, options, ctx));
    },
    'curate.export': (input) => {
      const options = parseExportOptions(input);
      // A client's relative path would resolve against main's working folder, which the user never chose.
      if (!path.isAbsolute(options.out)) throw invalid('out: the export folder must be an absolute path');
      s.catalog.datasetIdByName(options.dataset);
      return start('export', (ctx) => exportDataset(s.catalog, options, ctx));
    },
  };
}
