import { EvalInput, type Report } from '../../shared/contract/evaluate.js';
import type { Catalog, DatasetImage } from '../catalog/catalog.js';
import { invalid } from '../common/errors.js';
import type { JobContext } from '../common/jobs.js';
import type { BackendPreference } from '../compute/index.js';
import type { RunStore } from '../train/runs/run-store.js';
import { typicalImageSize } from '../train/runs/runner.js';
import {
  type EncoderSource,
  extractFeatures,
  extractPixelFeatures,
  featureDirFor,
  randomEncoder,
  randomTwin,
  runEncoder,
} from './extract.js';
import type { EncoderRuntime } from './encoder-runtime.js';
import type { FeatureMatrix, LabeledFeatures } from './features.js';
import { DEFAULT_FRACTION_SEEDS, linearProbeFractionsAsync } from './fractions.js';
import { DEFAULT_KS, DEFAULT_TEMPERATURE, knnClassify } from './knn.js';
import { linearProbeAsync, type LinearProbeOptions } from './linear-probe.js';
import { DEFAULT_PIXEL_SIZE } from './pixels.js';
import type { ReportStore } from './report-store.js';

type ParsedEvalInput = ReturnType<typeof EvalInput.parse>;

/** Everything an evaluation reads, checked before any work starts. */
export interface EvalPlan {
  input: ParsedEvalInput;
  encoder: EncoderSource;
  train: { id: number; name: string; images: DatasetImage[]; labels: Int32Array };
  test: { id: number; name: string; images: DatasetImage[]; labels: Int32Array };
  classes: string[];
  warnings: string[];
  leakCount: number;
}

export interface EvalDeps {
  catalog: Catalog;
  runs: RunStore;
  reports: ReportStore;
  /** where feature caches go; default: features/ beside the catalog */
  cacheDir?: string;
  /** a tfjs compute backend; naming one (not 'auto') runs the encoders on tfjs rather than ONNX Runtime */
  backend?: BackendPreference;
  /** 'auto' (default): ONNX Runtime where it can run the encoder, else tfjs; the others force one */
  runtime?: EncoderRuntime;
  /** linear-probe knobs (tests shrink the grid) */
  probe?: LinearProbeOptions;
}

export function parseEvalInput(raw: unknown): ParsedEvalInput {
  const parsed = EvalInput.safeParse(raw);
  if (!parsed.success) throw invalid(`bad evaluation request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * Resolves the datasets and the encoder and checks the labels, so bad input fails at once with a message naming
 * what is wrong: a test (or train) set without labels, a test class the train set never shows, a run without a
 * checkpoint. Train and test images with the same sha256 are counted as a leak and become a warning.
 */
export function planEvaluation(catalog: Catalog, runs: RunStore, raw: unknown): EvalPlan {
  const input = parseEvalInput(raw);
  const trainId = catalog.datasetIdByName(input.trainDataset);
  const testId = catalog.datasetIdByName(input.testDataset);
  const trainImages = catalog.datasetImages(trainId);
  const testImages = catalog.datasetImages(testId);
  checkLabelled(testImages, input.testDataset, 'test');
  checkLabelled(trainImages, input.trainDataset, 'train');

  const warnings: string[] = [];
  const trainClasses = new Set(trainImages.map((i) => i.label!));
  const testClasses = new Set(testImages.map((i) => i.label!));
  const unseen = [...testClasses].filter((c) => !trainClasses.has(c)).sort();
  if (unseen.length > 0) {
    throw invalid(
      `test dataset "${input.testDataset}" has ${unseen.length} class(es) that train dataset "${input.trainDataset}" lacks: ${unseen.slice(0, 10).join(', ')}${unseen.length > 10 ? ', …' : ''}; a probe cannot learn a class it never sees`,
    );
  }
  const classes = [...testClasses].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (classes.length < 2) throw invalid(`test dataset "${input.testDataset}" has ${classes.length} class; evaluation needs at least 2`);
  // Classes only train has would get no test row and so no per-class accuracy: they are left out of both sides.
  const trainOnly = [...trainClasses].filter((c) => !testClasses.has(c)).sort();
  let trainKept = trainImages;
  if (trainOnly.length > 0) {
    trainKept = trainImages.filter((i) => testClasses.has(i.label!));
    warnings.push(
      `${trainImages.length - trainKept.length} train image(s) of ${trainOnly.length} class(es) absent from the test set (${trainOnly.slice(0, 10).join(', ')}${trainOnly.length > 10 ? ', …' : ''}) were left out.`,
    );
  }

  const trainHashes = new Set(trainKept.map((i) => i.sha256).filter((h): h is string => h !== null));
  const leakCount = testImages.filter((i) => i.sha256 !== null && trainHashes.has(i.sha256)).length;
  if (leakCount > 0) {
    warnings.push(
      `Leak: ${leakCount} test image(s) also appear in the train set (same sha256); the accuracies are inflated by memorised images.`,
    );
  }

  const encoder =
    input.run === 'random'
      ? randomEncoder(input.backbone, typicalImageSize(trainKept), input.seed)
      : runEncoder(runs, input.run);
  const index = new Map(classes.map((c, i) => [c, i]));
  return {
    input,
    encoder,
    train: { id: trainId, name: input.trainDataset, images: trainKept, labels: Int32Array.from(trainKept, (i) => index.get(i.label!)!) },
    test: { id: testId, name: input.testDataset, images: testImages, labels: Int32Array.from(testImages, (i) => index.get(i.label!)!) },
    classes,
    warnings,
    leakCount,
  };
}

function checkLabelled(images: readonly DatasetImage[], name: string, role: 'train' | 'test'): void {
  if (images.length === 0) throw invalid(`${role} dataset "${name}" has no usable images`);
  const unlabelled = images.filter((i) => i.label === null).length;
  if (unlabelled === images.length) {
    throw invalid(`${role} dataset "${name}" has no labels; evaluation needs a labelled ${role} set (import it with labels from folder names)`);
  }
  if (unlabelled > 0) throw invalid(`${role} dataset "${name}" has ${unlabelled} of ${images.length} images without a label; label them or split them off first`);
}

/** Every protocol of the plan plus both baselines, stored in the catalog. */
export async function runEvaluation(plan: EvalPlan, deps: EvalDeps, ctx?: JobContext): Promise<Report> {
  const started = performance.now();
  const { input, encoder, train, test, classes } = plan;
  const cacheDir = deps.cacheDir ?? featureDirFor(deps.catalog.path);
  const C = classes.length;
  const wantLinear = input.protocols.includes('linear');
  const wantKnn = input.protocols.includes('knn');
  const labelled = (f: FeatureMatrix, labels: Int32Array): LabeledFeatures => ({ ...f, labels, numClasses: C });
  const extraction: NonNullable<Report['extraction']> = [];
  const features = async (e: EncoderSource, what: string) => {
    const extract = async (part: EvalPlan['train'], role: string) => {
      const phase = `${what} features: ${role}`;
      const r = await extractFeatures({
        encoder: e,
        images: part.images,
        datasetId: part.id,
        cacheDir,
        ctx,
        phase,
        ...(deps.backend ? { backend: deps.backend } : {}),
        ...(deps.runtime ? { runtime: deps.runtime } : {}),
      });
      extraction.push({ features: phase, runtime: r.runtime?.runtime ?? null, fallback: r.runtime?.fallback ?? null, cached: r.cached });
      return r;
    };
    const tr = await extract(train, 'train');
    ctx?.throwIfCancelled();
    const te = await extract(test, 'test');
    ctx?.throwIfCancelled();
    return { train: labelled(tr.features, train.labels), test: labelled(te.features, test.labels) };
  };
  // The probes run on this (the server's main) thread: the async drivers return to the event loop between
  // objective evaluations, so progress events and a cancel get through mid-fit, and stop there on a cancel.
  const signal = ctx?.signal;
  const probeOptions = (phase: string): LinearProbeOptions & { signal?: AbortSignal | undefined } => ({
    seed: input.seed,
    ...deps.probe,
    signal,
    onProgress: (p) => ctx?.progress(p.iteration, 0, `${phase}: λ=${p.l2} ${p.phase}`),
  });
  const knn = async (f: { train: LabeledFeatures; test: LabeledFeatures }) => {
    const r = await knnClassify(f.train, f.test, { ks: DEFAULT_KS, temperature: DEFAULT_TEMPERATURE, ...(ctx ? { signal: ctx.signal } : {}) }).catch(
      (err: unknown) => {
        // the workers reject with the signal's reason; report a cancel the way every other phase does
        ctx?.throwIfCancelled();
        throw err;
      },
    );
    return { k10: r.k10!.top1, k20: r.k20!.top1, k100: r.k100!.top1 };
  };

  const main = await features(encoder, encoder.kind === 'run' ? `run ${encoder.runId}` : 'random-init');

  let linear: Report['linear'] = null;
  if (wantLinear) {
    ctx?.setPhase('linear probe');
    const r = await linearProbeAsync(main.train, main.test, probeOptions('linear probe'));
    linear = { top1: r.top1, top5: r.top5, perClass: r.perClass, confusion: r.confusion, l2: r.l2 };
  }
  ctx?.throwIfCancelled();

  let knnResult: Report['knn'] = null;
  if (wantKnn) {
    ctx?.setPhase('kNN');
    knnResult = await knn(main);
  }
  ctx?.throwIfCancelled();

  const fractions: Report['fractions'] = {};
  if (wantLinear && input.fractions.length > 0) {
    ctx?.setPhase('label fractions', input.fractions.length * DEFAULT_FRACTION_SEEDS.length);
    let runsDone = 0;
    const results = await linearProbeFractionsAsync(main.train, main.test, {
      fractions: input.fractions,
      seeds: DEFAULT_FRACTION_SEEDS,
      probe: { ...deps.probe },
      signal,
      onRun: (fraction, seed) => ctx?.progress(runsDone++, 0, `fraction ${fraction}, seed ${seed}`),
    });
    for (const r of results) fractions[String(r.fraction)] = { mean: r.mean, std: r.std, runs: r.runs.map((x) => x.top1) };
  }
  ctx?.throwIfCancelled();

  // The random-init baseline: the same architecture untrained. For a random encoder it is the encoder itself.
  let randomLinear: { top1: number } | null = null;
  let randomKnn: { k20: number } | null = null;
  if (encoder.kind === 'random') {
    randomLinear = linear ? { top1: linear.top1 } : null;
    randomKnn = knnResult ? { k20: knnResult.k20 } : null;
  } else {
    const twin = await features(randomTwin(encoder, input.seed), 'random-init');
    if (wantLinear) {
      ctx?.setPhase('baseline: random-init linear probe');
      randomLinear = { top1: (await linearProbeAsync(twin.train, twin.test, probeOptions('random-init probe'))).top1 };
    }
    if (wantKnn) {
      ctx?.setPhase('baseline: random-init kNN');
      randomKnn = { k20: (await knn(twin)).k20 };
    }
  }
  ctx?.throwIfCancelled();

  const pixelOf = (part: EvalPlan['train'], role: string) =>
    extractPixelFeatures({ images: part.images, datasetId: part.id, cacheDir, size: DEFAULT_PIXEL_SIZE, ctx, phase: `pixels: ${role}` });
  const pixTrain = await pixelOf(train, 'train');
  const pixTest = await pixelOf(test, 'test');
  ctx?.throwIfCancelled();
  ctx?.setPhase('baseline: raw-pixel linear probe');
  const pixels = await linearProbeAsync(labelled(pixTrain.features, train.labels), labelled(pixTest.features, test.labels), probeOptions('pixel probe'));

  ctx?.throwIfCancelled();
  const warnings = [...plan.warnings];
  if (wantKnn && train.images.length < 100) {
    warnings.push(`The train set has ${train.images.length} images, fewer than k = 100: kNN k=100 votes with all of them.`);
  }
  return deps.reports.insert({
    encoder: {
      kind: encoder.kind,
      runId: encoder.kind === 'run' ? encoder.runId : null,
      backbone: encoder.backbone,
      method: encoder.kind === 'run' ? encoder.method : null,
      epochs: encoder.kind === 'run' ? encoder.epoch : null,
      steps: encoder.kind === 'run' ? encoder.step : null,
      imageSize: encoder.imageSize,
    },
    trainDatasetId: train.id,
    testDatasetId: test.id,
    trainDataset: train.name,
    testDataset: test.name,
    classes,
    linear,
    knn: knnResult,
    fractions,
    baselines: { random: { linear: randomLinear, knn: randomKnn }, pixels: { linear: { top1: pixels.top1 } } },
    warnings,
    leakCount: plan.leakCount,
    seconds: (performance.now() - started) / 1000,
    extraction,
  });
}

/** One call: plan (fails fast on bad input), then evaluate. */
export async function evaluate(deps: EvalDeps, raw: unknown, ctx?: JobContext): Promise<Report> {
  const plan = planEvaluation(deps.catalog, deps.runs, raw);
  return runEvaluation(plan, deps, ctx);
}

/** The `curio eval --json` headline: the report's numbers in the CLI's documented shape. */
export function headline(report: Report, html: string) {
  return {
    reportId: report.id,
    linear: report.linear ? { top1: report.linear.top1, top5: report.linear.top5 } : null,
    knn: report.knn ? { k10: report.knn.k10, k20: report.knn.k20, k100: report.knn.k100 } : null,
    fractions: Object.fromEntries(Object.entries(report.fractions).map(([k, v]) => [k, { mean: v.mean, std: v.std }])),
    baselines: {
      random: {
        linear: report.baselines.random.linear ? { top1: report.baselines.random.linear.top1 } : null,
        knn: report.baselines.random.knn ? { k20: report.baselines.random.knn.k20 } : null,
      },
      pixels: { linear: { top1: report.baselines.pixels.linear.top1 } },
    },
    html,
  };
}
