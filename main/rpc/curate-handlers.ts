import type { Services } from '../services.js';
import { parseDedupOptions, runDedup } from '../curate/dedup.js';
import { checkEncoderSpec } from '../curate/encoders.js';
import type { HandlerGroup } from './types.js';

type CurateRequest = 'curate.dedup' | 'app.pickModelFile';

export function curateHandlers(s: Services): HandlerGroup<CurateRequest> {
  return {
    'curate.dedup': (input) => {
      const options = parseDedupOptions(input);
      // Fail at once, before a job starts, on a dataset that is not there.
      s.catalog.datasetIdByName(options.dataset);
      checkEncoderSpec(s.catalog, options.encoder, { absolute: true });
      const { jobId, promise } = s.jobs.start('dedup', (ctx) => runDedup(s.catalog, options, ctx));
      promise.then(
        (result) => {
          if (result.applied) s.bus.emit('onDidChangeDatasets', { datasetId: result.applied.datasetId });
        },
        () => undefined,
      );
      return { jobId };
    },
    // the Electron shell overrides this with its file dialog (main/app/main.ts)
    'app.pickModelFile': () => ({ supported: false, path: null }),
  };
}
