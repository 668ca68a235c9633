import { z } from 'zod';
import { request } from './define.js';
import { DatasetName, Empty, FsPath, Id } from './common.js';

export const ImageStatus = z.enum(['ok', 'failed', 'missing']);
export type ImageStatus = z.infer<typeof ImageStatus>;

export const Dataset = z.object({
  id: Id,
  name: DatasetName,
  kind: z.enum(['import', 'split', 'curated']),
  parentId: Id.nullable(),
  createdAt: z.string(),
  imageCount: z.number().int().nonnegative(),
  okCount: z.number().int().nonnegative(),
  failedCount: z.number().int().nonnegative(),
  missingCount: z.number().int().nonnegative(),
  labelCount: z.number().int().nonnegative(),
  folders: z.array(z.string()),
});
export type Dataset = z.infer<typeof Dataset>;

export const ImageRow = z.object({
  id: Id,
  path: z.string(),
  label: z.string().nullable(),
  status: ImageStatus,
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  /** content hash; also the thumbnail's key in the cache */
  sha256: z.string().nullable(),
  hasThumbnail: z.boolean(),
});
export type ImageRow = z.infer<typeof ImageRow>;

export const ImageDetail = ImageRow.extend({
  datasetId: Id,
  bytes: z.number().int().nullable(),
  format: z.string().nullable(),
  phash: z.string().nullable(),
  error: z.string().nullable(),
  mtimeMs: z.number().nullable(),
  importedAt: z.string(),
});
export type ImageDetail = z.infer<typeof ImageDetail>;

export const ImportInput = z
  .object({
    paths: z.array(FsPath).min(1, 'give at least one folder').max(1000),
    dataset: DatasetName,
    labelsFromFolders: z.boolean().default(false),
  })
  .strict();
export type ImportInput = z.input<typeof ImportInput>;

export const ImportSummary = z.object({
  dataset: z.string(),
  datasetId: Id,
  imported: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  missing: z.number().int().nonnegative(),
  cancelled: z.boolean(),
  seconds: z.number().nonnegative(),
});
export type ImportSummary = z.infer<typeof ImportSummary>;

export const SplitPart = z.object({ name: DatasetName, fraction: z.number().gt(0).lte(1) });
export const SplitInput = z
  .object({
    dataset: DatasetName,
    into: z
      .array(SplitPart)
      .min(1)
      .max(10)
      .refine((parts) => parts.reduce((s, p) => s + p.fraction, 0) <= 1 + 1e-9, 'fractions add up to more than 1')
      .refine((parts) => new Set(parts.map((p) => p.name)).size === parts.length, 'part names repeat'),
    seed: z.number().int().default(0),
  })
  .strict();
export type SplitInput = z.input<typeof SplitInput>;
export const SplitResult = z.object({
  parts: z.array(z.object({ name: z.string(), datasetId: Id, count: z.number().int(), perLabel: z.record(z.string(), z.number().int()) })),
});
export type SplitResult = z.infer<typeof SplitResult>;

export const ImageQuery = z
  .object({
    datasetId: Id,
    offset: z.number().int().nonnegative().max(100_000_000).default(0),
    limit: z.number().int().min(1).max(1000).default(200),
    label: z.string().max(500).nullable().optional(),
    status: ImageStatus.optional(),
  })
  .strict();

export const datasetRequests = {
  'app.info': request(
    'What this main process is and where its catalog lives',
    Empty,
    z.object({ version: z.string(), mode: z.enum(['electron', 'browser']), dbPath: z.string(), cores: z.number().int() }),
  ),
  'app.pickFolders': request(
    'Ask the user for folders with the native dialog; unsupported in browser mode, where a path field stands in',
    Empty,
    z.object({ supported: z.boolean(), paths: z.array(z.string()) }),
  ),
  'datasets.list': request('Every dataset in the catalog with its counts', Empty, z.array(Dataset)),
  'datasets.get': request('One dataset with its counts', z.object({ datasetId: Id }).strict(), Dataset),
  'datasets.delete': request(
    'Remove a dataset from the catalog (never touches files on disk)',
    z.object({ datasetId: Id }).strict(),
    z.object({ deleted: z.boolean() }),
  ),
  'datasets.import': request(
    'Start importing folders into a dataset (created if new); progress arrives as onDidProgress',
    ImportInput,
    z.object({ jobId: z.string() }),
  ),
  'datasets.split': request('Make class-balanced datasets out of one dataset', SplitInput, SplitResult),
  'images.list': request(
    'One page of a dataset, in import order, optionally filtered by label and status',
    ImageQuery,
    z.object({ total: z.number().int().nonnegative(), items: z.array(ImageRow) }),
  ),
  'images.get': request('Everything the catalog knows about one image', z.object({ imageId: Id }).strict(), ImageDetail),
  'images.labels': request(
    'Labels of a dataset with their counts',
    z.object({ datasetId: Id }).strict(),
    z.array(z.object({ label: z.string().nullable(), count: z.number().int() })),
  ),
  'images.failures': request(
    'Files that failed to import, with the reason',
    z.object({ datasetId: Id, limit: z.number().int().min(1).max(10_000).default(500) }).strict(),
    z.array(z.object({ id: Id, path: z.string(), error: z.string() })),
  ),
} as const;
