import type { Services } from '../services.js';
import { ReviewInput } from '../../shared/contract/curate-review.js';
import { checkEncoderSpec } from '../curate/encoders.js';
import { applyReview, runReview } from '../curate/review.js';
import type { HandlerGroup } from './types.js';

type CurateReviewRequest = 'curate.review' | 'curate.applyReview';

export function curateReviewHandlers(s: Services): HandlerGroup<CurateReviewRequest> {
  return {
    'curate.review': (input) => {
      const options = ReviewInput.parse(input);
      // Fail at once, before a job starts, on a dataset that is not there.
      s.catalog.datasetIdByName(options.dataset);
      checkEncoderSpec(s.catalog, options.encoder, { absolute: true });
      const { jobId } = s.jobs.start('embed', (ctx) => runReview(s.catalog, options, ctx));
      return { jobId };
    },
    'curate.applyReview': (input) => {
      const result = applyReview(s.catalog, input);
      s.bus.emit('onDidChangeDatasets', { datasetId: result.datasetId });
      return result;
    },
  };
}
