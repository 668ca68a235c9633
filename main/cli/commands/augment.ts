import fs from 'node:fs';
import path from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import { parsePipelineSpec, PRESET_METHODS, type PresetMethod } from '../../../shared/contract/augment.js';
import { opStrengths, pipelineWarnings } from '../../../shared/contract/pipeline-checks.js';
import type { PipelineRef, PreviewOutput } from '../../../shared/contract/pipelines.js';
import { PipelineStore } from '../../augment/pipeline-store.js';
import { PreviewService } from '../../augment/preview.js';
import { CurioError } from '../../common/errors.js';
import { parseBackendPreference } from '../../compute/index.js';
import { createServices } from '../../services.js';
import { intFlag, parse, requireString, UsageError } from '../args.js';
import { Output } from '../output.js';
import type { Command } from '../command.js';

const USAGE =
  'curio augment preview --dataset NAME --pipeline FILE|simclr|mocov2|mocov3|byol|dino|SAVED --out DIR ' +
  '[--k 8] [--m 4] [--size PX] [--seed S] [--method M] [--backend X] [--db FILE] [--json]';

const GAP = 2;
const BACKGROUND = { r: 24, g: 24, b: 28, alpha: 1 };

export const augmentCommand: Command = {
  name: 'augment',
  usage: USAGE,
  summary: 'Preview an augmentation pipeline on a dataset: K images × M views as a PNG grid, made as training makes them',
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'preview') throw new UsageError(sub ? `unknown subcommand "${sub}" (expected preview)` : 'missing subcommand (expected preview)');
    const { values } = parse(rest, {
      dataset: { type: 'string' },
      pipeline: { type: 'string' },
      out: { type: 'string' },
      k: { type: 'string' },
      m: { type: 'string' },
      size: { type: 'string' },
      seed: { type: 'string' },
      method: { type: 'string' },
      backend: { type: 'string' },
    });
    const datasetName = requireString(values.dataset, 'dataset');
    const pipelineArg = requireString(values.pipeline, 'pipeline');
    const outDir = requireString(values.out, 'out');
    const k = intFlag(values.k, 'k', 8, 1);
    const m = intFlag(values.m, 'm', 4, 1);
    const size = values.size === undefined ? undefined : intFlag(values.size, 'size', undefined, 8);
    const seed = intFlag(values.seed, 'seed', 0, 0);
    if (values.method !== undefined && !(PRESET_METHODS as readonly string[]).includes(values.method)) {
      throw new UsageError(`--method must be one of ${PRESET_METHODS.join(', ')}, got "${values.method}"`);
    }
    const backend = values.backend === undefined ? 'auto' : parseBackendPreference(values.backend);
    const pipeline = readPipelineArg(pipelineArg);

    const out = new Output(values.json);
    const services = createServices({ dbPath: values.db, mode: 'browser' });
    try {
      const datasetId = services.catalog.datasetIdByName(datasetName);
      const previews = new PreviewService(services.catalog, { backend, pipelines: new PipelineStore(services.catalog) });
      let result: PreviewOutput;
      try {
        result = await previews.preview({ datasetId, pipeline, k, m, ...(size !== undefined ? { size } : {}), seed, format: 'raw' });
      } catch (err) {
        if (err instanceof CurioError && err.code === 'invalid-input') throw new UsageError(cliFieldNames(err.message));
        throw err;
      }
      fs.mkdirSync(outDir, { recursive: true });
      const grid = path.join(outDir, 'preview.png');
      await writeGrid(result, grid);
      const spec = parsePipelineSpec(result.spec);
      const method = (values.method as PresetMethod | undefined) ?? result.method;
      const warnings = pipelineWarnings(spec, method);
      const strengths = opStrengths(spec);
      const specFile = path.join(outDir, 'pipeline.json');
      fs.writeFileSync(specFile, `${JSON.stringify(result.spec, null, 2)}\n`);
      for (const w of warnings) out.info(`warning: ${w.message} (${w.cites})`);
      out.result(
        {
          grid,
          pipeline: specFile,
          dataset: datasetName,
          k: result.samples.length,
          m: result.views.length,
          imageSize: result.imageSize,
          seed: result.seed,
          method,
          backend: result.backend,
          views: result.views,
          strengths: strengths.map(({ op, value, detail }) => ({ op, value, detail })),
          warnings,
          timingsMs: result.timings,
        },
        () =>
          [
            `wrote ${grid}: ${result.samples.length} images × ${result.views.length} views (${result.views.map((v) => `${v.kind} ${v.size}px`).join(', ')}) at ${result.imageSize} px, seed ${result.seed}`,
            ...strengths.map((s) => `  ${s.op.padEnd(20)} ${s.value.toFixed(3)}  ${s.detail}`),
            `${result.backend}, ${result.timings.totalMs.toFixed(0)} ms`,
          ].join('\n'),
      );
      return 0;
    } finally {
      services.close();
    }
  },
};

/** A file is read as JSON (a spec); anything else is a preset or saved name, resolved by the preview. */
function readPipelineArg(arg: string): PipelineRef {
  if (!fs.existsSync(arg)) {
    if (/[/\\]|\.json$/i.test(arg)) throw new UsageError(`--pipeline: no such file ${arg}`);
    return arg;
  }
  const text = fs.readFileSync(arg, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--pipeline ${arg} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--pipeline ${arg}: expected a JSON object (a pipeline spec)`);
  return value as Record<string, unknown>;
}

/** The preview speaks of request fields; the CLI user typed flags. */
function cliFieldNames(message: string): string {
  return message
    .replace(/^datasetId: dataset/, '--dataset: dataset')
    .replace(/^pipeline: /, '--pipeline: ')
    .replace(/^invalid augmentation pipeline: /, '--pipeline: invalid augmentation pipeline: ');
}

/** One row per sample: the decoded input, then its views, each centred in a cell of the largest size. */
async function writeGrid(result: PreviewOutput, file: string): Promise<void> {
  const cell = Math.max(result.imageSize, ...result.views.map((v) => v.size));
  const cols = 1 + result.views.length;
  const rows = result.samples.length;
  const width = cols * cell + (cols + 1) * GAP;
  const height = rows * cell + (rows + 1) * GAP;
  const layers: OverlayOptions[] = [];
  result.samples.forEach((sample, r) => {
    [sample.source, ...sample.views].forEach((img, c) => {
      layers.push({
        input: Buffer.from(img.data, 'base64'),
        raw: { width: img.width, height: img.height, channels: 4 },
        left: GAP + c * (cell + GAP) + Math.floor((cell - img.width) / 2),
        top: GAP + r * (cell + GAP) + Math.floor((cell - img.height) / 2),
      });
    });
  });
  await sharp({ create: { width, height, channels: 4, background: BACKGROUND } })
    .composite(layers)
    .png()
    .toFile(file);
}
