import { z } from 'zod';
import { PRESET_METHODS } from './augment.js';
import { Empty, Id } from './common.js';
import { request } from './define.js';

/**
 * The augmentation designer's requests: saved pipelines in the catalog (by name, the spec stored as parsed JSON)
 * and the preview, which main renders through the training code path (ImageCache decode + augmentBatch).
 */

export const PipelineName = z
  .string()
  .trim()
  .min(1, 'pipeline name is empty')
  .max(100, 'pipeline name is longer than 100 characters')
  .regex(/^[^\u0000-\u001f]+$/, 'pipeline name may not contain control characters');

export const PresetName = z.enum(PRESET_METHODS);

/** A spec as sent over the wire; main validates it with parsePipelineSpec so errors name the field. */
export const PipelineSpecJson = z.record(z.string(), z.unknown());

export const SavedPipeline = z.object({
  id: Id,
  name: z.string(),
  /** the method the pipeline was designed for (drives the designer's warnings); null when unknown */
  method: PresetName.nullable(),
  /** the parsed spec, defaults filled in: exactly what a run stores when it uses this pipeline */
  spec: PipelineSpecJson,
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SavedPipeline = z.infer<typeof SavedPipeline>;

/** A pipeline for preview: a preset name (sized to the preview's images), a saved pipeline's name, or a spec. */
export const PipelineRef = z.union([z.string().min(1).max(100), PipelineSpecJson]);
export type PipelineRef = z.infer<typeof PipelineRef>;

export const PREVIEW_MAX_K = 32;
export const PREVIEW_MAX_M = 16;

export const PreviewInput = z
  .object({
    datasetId: Id,
    pipeline: PipelineRef,
    /** sample images (rows) */
    k: z.number().int().min(1, 'must be ≥ 1').max(PREVIEW_MAX_K, `must be ≤ ${PREVIEW_MAX_K}`).default(8),
    /** views per image (columns) */
    m: z.number().int().min(1, 'must be ≥ 1').max(PREVIEW_MAX_M, `must be ≤ ${PREVIEW_MAX_M}`).default(4),
    /** decode size in px, as a run's --image-size; defaults to the dataset's typical size, as a run does */
    size: z.number().int().min(8, 'must be ≥ 8 px').max(512, 'must be ≤ 512 px').optional(),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    /** png: data URLs for <img>; raw: base64 RGBA bytes (tests compare pixels) */
    format: z.enum(['png', 'raw']).default('png'),
  })
  .strict();
export type PreviewInput = z.input<typeof PreviewInput>;

export const PreviewImage = z.object({
  width: z.number().int(),
  height: z.number().int(),
  /** `data:image/png;base64,…` or base64 of width·height·4 RGBA bytes */
  data: z.string(),
});
export type PreviewImage = z.infer<typeof PreviewImage>;

export const PreviewView = z.object({
  /** which view of the spec this column is, and which augmentBatch call (round) drew it */
  view: z.number().int(),
  round: z.number().int(),
  /** the seed of that call: round 0 uses the request's seed, as a training step with that seed would */
  seed: z.number().int(),
  kind: z.enum(['view', 'global', 'local']),
  size: z.number().int(),
});
export type PreviewView = z.infer<typeof PreviewView>;

export const PreviewOutput = z.object({
  datasetId: Id,
  imageSize: z.number().int(),
  seed: z.number().int(),
  /** the resolved spec the preview ran */
  spec: PipelineSpecJson,
  method: PresetName.nullable(),
  views: z.array(PreviewView),
  samples: z.array(
    z.object({
      imageId: Id,
      label: z.string().nullable(),
      /** the decoded input at imageSize, before augmentation */
      source: PreviewImage,
      views: z.array(PreviewImage),
    }),
  ),
  timings: z.object({ decodeMs: z.number(), augmentMs: z.number(), encodeMs: z.number(), totalMs: z.number(), cached: z.boolean() }),
  backend: z.string(),
});
export type PreviewOutput = z.infer<typeof PreviewOutput>;

const ByName = z.object({ name: PipelineName }).strict();

export const pipelineRequests = {
  'pipelines.list': request('Saved augmentation pipelines, by name', Empty, z.array(SavedPipeline)),
  'pipelines.get': request('One saved pipeline', ByName, SavedPipeline),
  'pipelines.create': request(
    'Save a new pipeline under a name; the spec is validated first (errors name the field)',
    z.object({ name: PipelineName, spec: PipelineSpecJson, method: PresetName.nullable().default(null) }).strict(),
    SavedPipeline,
  ),
  'pipelines.update': request(
    'Replace a saved pipeline\'s spec (and optionally rename it); a bad spec leaves the stored one untouched',
    z
      .object({ name: PipelineName, spec: PipelineSpecJson, method: PresetName.nullable().optional(), rename: PipelineName.optional() })
      .strict(),
    SavedPipeline,
  ),
  'pipelines.delete': request('Delete a saved pipeline (runs keep their own snapshot)', ByName, z.object({ deleted: z.boolean() })),
  'pipelines.import': request(
    'Save a pipeline from JSON text (the spec itself); malformed JSON or a bad field is refused with its path',
    z.object({ name: PipelineName.optional(), json: z.string().max(1_000_000), overwrite: z.boolean().default(false) }).strict(),
    SavedPipeline,
  ),
  'pipelines.export': request('A saved pipeline as JSON text (the spec itself)', ByName, z.object({ json: z.string() })),
  'augment.preset': request(
    'A method\'s preset spec sized to a dataset\'s typical image size (or a given size)',
    z
      .object({ method: PresetName, datasetId: Id.optional(), size: z.number().int().min(8).max(512).optional() })
      .strict(),
    z.object({ spec: PipelineSpecJson, imageSize: z.number().int() }),
  ),
  'augment.preview': request(
    'K sample images × M augmented views, made by the training code path for the given seed',
    PreviewInput,
    PreviewOutput,
  ),
} as const;
