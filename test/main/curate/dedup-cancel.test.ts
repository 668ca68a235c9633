import { describe, expect, it } from 'vitest';
import { Catalog } from '../../../main/catalog/catalog.js';
import { EventBus } from '../../../main/common/event-bus.js';
import { JobManager } from '../../../main/common/jobs.js';
import { parseDedupOptions, runDedup } from '../../../main/curate/dedup.js';

describe('dedup cancel', () => {
  it('a cancelled dedup with --apply leaves the datasets unchanged', async () => {
    const catalog = Catalog.open(':memory:');
    const id = catalog.ensureImportDataset('pool');
    const folderId = catalog.upsertFolder(id, '/nowhere', false);
    catalog.upsertImages(
      id,
      Array.from({ length: 3000 }, (_, i) => ({
        path: `/nowhere/${i}.jpg`,
        folderId,
        bytes: 100,
        mtimeMs: 1,
        width: 8,
        height: 8,
        format: 'jpeg',
        sha256: String(i % 1000).padStart(64, '0'),
        phash: (i % 500).toString(16).padStart(16, '0'),
        label: null,
        status: 'ok' as const,
        error: null,
        thumbnail: false,
      })),
    );
    const jobs = new JobManager(new EventBus());
    const { jobId, promise } = jobs.start('dedup', (ctx) => runDedup(catalog, parseDedupOptions({ dataset: 'pool', apply: 'pool-curated' }), ctx));
    jobs.cancel(jobId);
    await expect(promise).rejects.toThrow(/cancel/);
    expect((await jobs.settled(jobId))!.state).toBe('cancelled');
    expect(catalog.listDatasets().map((d) => d.name)).toEqual(['pool']);
    catalog.close();
  });
});
