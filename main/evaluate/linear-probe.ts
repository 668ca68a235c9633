import { invalid } from '../common/errors.js';
import { type FeatureMatrix, type LabeledFeatures, checkFeatures, checkLabeled } from './features.js';
import { lbfgsSteps, type LbfgsStop } from './lbfgs.js';
import { type ClassificationReport, classificationReport, topKAccuracy } from './metrics.js';
import { stratifiedSubset } from './sampling.js';
import { softmaxObjectiveSteps, type SoftmaxObjective } from './softmax-objective.js';
import { type AsyncStepOptions, runSteps, runStepsAsync, type Steps } from './steps.js';
import { defaultThreads } from './workers.js';

/**
 * Linear evaluation (SimCLR/MoCo protocol): multinomial logistic regression on frozen features.
 * Objective: (1/n) Σ −log softmax(W x̂ + b)_y + (λ/2)‖W‖², with x̂ the features standardised by the mean and
 * standard deviation of the whole training set (the bias is not penalised). λ is chosen from a grid on a
 * class-balanced validation split carved from train, then the model is refitted on all of train with that λ.
 */
export interface LinearProbeOptions {
  /** L2 strengths to try, any order; they are tried from strongest to weakest with warm starts. */
  l2Grid?: readonly number[];
  /** Share of each class held out for choosing λ. */
  validationFraction?: number;
  seed?: number;
  /** L-BFGS iterations per fit. */
  maxIterations?: number;
  gradientTolerance?: number;
  relativeTolerance?: number;
  /** Stop walking down the grid after this many weaker λ in a row did not beat the best validation accuracy. */
  patience?: number;
  /** Worker threads for the loss/gradient (1 = the calling thread only); default: by problem size. */
  threads?: number;
  onProgress?: (progress: LinearProbeProgress) => void;
}

export interface LinearProbeProgress {
  phase: 'validate' | 'refit';
  l2: number;
  iteration: number;
  loss: number;
}

export const DEFAULT_L2_GRID: readonly number[] = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

/** A fitted probe with the standardisation folded in: scores = weights · x + bias on raw features. */
export interface LinearModel {
  dim: number;
  numClasses: number;
  /** [numClasses, dim], row c contiguous. */
  weights: Float32Array;
  bias: Float32Array;
}

export interface ValidationPoint {
  l2: number;
  top1: number;
  iterations: number;
  stop: LbfgsStop;
}

export interface LinearProbeFit {
  model: LinearModel;
  l2: number;
  validation: ValidationPoint[];
  refit: { iterations: number; evaluations: number; stop: LbfgsStop; objective: number };
  seconds: number;
}

export interface LinearProbeResult extends ClassificationReport {
  l2: number;
  validation: ValidationPoint[];
  trainSeconds: number;
}

export function fitLinearProbe(train: LabeledFeatures, options: LinearProbeOptions = {}): LinearProbeFit {
  return runSteps(fitLinearProbeSteps(train, options));
}

/**
 * As fitLinearProbe, but it returns to the event loop between objective evaluations (so a server stays responsive
 * during the fit) and rejects with CancelledError soon after `signal` aborts, its worker threads stopped.
 */
export function fitLinearProbeAsync(train: LabeledFeatures, options: LinearProbeOptions & AsyncStepOptions = {}): Promise<LinearProbeFit> {
  return runStepsAsync(fitLinearProbeSteps(train, options), options);
}

/** The fit as steps (see steps.ts): one implementation for the sync and the async driver. */
export function* fitLinearProbeSteps(train: LabeledFeatures, options: LinearProbeOptions = {}): Steps<LinearProbeFit> {
  checkLabeled(train, 'linear probe training features');
  const grid = [...new Set(options.l2Grid ?? DEFAULT_L2_GRID)].sort((a, b) => b - a);
  if (grid.length === 0 || grid.some((l) => !(l >= 0) || !Number.isFinite(l))) {
    throw invalid(`linear probe: the L2 grid must hold finite values ≥ 0 (got ${JSON.stringify(options.l2Grid)})`);
  }
  const valFraction = options.validationFraction ?? 0.1;
  if (!(valFraction > 0 && valFraction < 1)) throw invalid(`linear probe: validationFraction must be in (0, 1), got ${valFraction}`);
  const started = performance.now();
  const { n, dim, numClasses: C } = train;
  const stats = meanAndInvStd(train);

  // Carve the validation rows (each class keeps at least one training row), then lay out the standardised
  // copy with the fitting rows first, so each fit runs over a prefix [0, rows) of one matrix.
  const split = grid.length > 1
    ? stratifiedSubset(train.labels, C, (count) => (count >= 2 ? Math.min(count - 1, Math.max(1, Math.round(count * valFraction))) : 0), options.seed ?? 0)
    : { selected: new Int32Array(0), rest: Int32Array.from({ length: n }, (_, i) => i) };
  const order = new Int32Array(n);
  order.set(split.rest, 0);
  order.set(split.selected, split.rest.length);
  const nFit = split.rest.length;
  // One evaluation is 2·n·dim·C multiply-adds; below ~50 M a thread's share would not pay for its start.
  const threads = Math.max(1, Math.floor(options.threads ?? defaultThreads(2 * n * dim * C, 5e7)));
  // Shared memory lets the worker threads read the matrix without a copy.
  const X = new Float32Array(threads > 1 ? new SharedArrayBuffer(n * dim * 4) : new ArrayBuffer(n * dim * 4));
  const labels = new Int32Array(threads > 1 ? new SharedArrayBuffer(n * 4) : new ArrayBuffer(n * 4));
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    labels[r] = train.labels[i]!;
    const src = i * dim;
    const dst = r * dim;
    for (let d = 0; d < dim; d++) X[dst + d] = (train.data[src + d]! - stats.mean[d]!) * stats.invStd[d]!;
    if ((r & 1023) === 1023) yield;
  }

  const objective = yield* softmaxObjectiveSteps(X, labels, dim, C, threads);
  try {
    const lbfgs = (rows: number, l2: number, start: Float64Array, phase: LinearProbeProgress['phase']) =>
      lbfgsSteps((p, g) => objective.evaluate(p, g, rows, l2), start, {
        maxIterations: options.maxIterations ?? 300,
        gradientTolerance: options.gradientTolerance ?? 1e-4,
        relativeTolerance: options.relativeTolerance ?? 1e-5,
        relativeWindow: 5,
        onIteration: (iteration, loss) => options.onProgress?.({ phase, l2, iteration, loss }),
      });

    const validation: ValidationPoint[] = [];
    let chosen = grid[0]!;
    let start: Float64Array = new Float64Array(C * dim + C);
    let chosenStart = start;
    if (grid.length > 1 && split.selected.length > 0) {
      const valX = X.subarray(nFit * dim);
      const valLabels = labels.subarray(nFit);
      let best = -1;
      let sinceBest = 0;
      for (const l2 of grid) {
        const r = yield* lbfgs(nFit, l2, start, 'validate');
        const scores = scoresOf(r.x, valX, valLabels.length, dim, C);
        const top1 = topKAccuracy(scores, valLabels, C, 1);
        validation.push({ l2, top1, iterations: r.iterations, stop: r.stop });
        start = r.x;
        if (top1 > best) {
          best = top1;
          chosen = l2;
          chosenStart = r.x;
          sinceBest = 0;
        } else if (++sinceBest >= (options.patience ?? 2)) {
          break;
        }
      }
    } else if (grid.length > 1) {
      chosen = grid[Math.floor(grid.length / 2)]!;
    }
    const final = yield* lbfgs(n, chosen, chosenStart, 'refit');
    return {
      model: foldStandardisation(final.x, stats, dim, C),
      l2: chosen,
      validation,
      refit: { iterations: final.iterations, evaluations: final.evaluations, stop: final.stop, objective: final.f },
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    objective.close();
  }
}

/** Logits [n, numClasses] of a fitted probe on raw (unstandardised) features. */
export function predictLinear(model: LinearModel, x: FeatureMatrix): Float32Array {
  if (x.dim !== model.dim) throw invalid(`linear probe: features have dimension ${x.dim}, the model expects ${model.dim}`);
  checkFeatures(x, 'linear probe test features');
  const { dim, numClasses: C, weights, bias } = model;
  const out = new Float32Array(x.n * C);
  for (let i = 0; i < x.n; i++) {
    const o = i * dim;
    for (let c = 0; c < C; c++) {
      const w = c * dim;
      let s = bias[c]!;
      for (let d = 0; d < dim; d++) s += weights[w + d]! * x.data[o + d]!;
      out[i * C + c] = s;
    }
  }
  return out;
}

/** Fit on train (λ by validation), report top-1/top-5/per-class/confusion on test. */
export function linearProbe(train: LabeledFeatures, test: LabeledFeatures, options: LinearProbeOptions = {}): LinearProbeResult {
  return runSteps(linearProbeSteps(train, test, options));
}

/** As linearProbe, yielding to the event loop during the fit and cancellable by `signal` (see fitLinearProbeAsync). */
export function linearProbeAsync(train: LabeledFeatures, test: LabeledFeatures, options: LinearProbeOptions & AsyncStepOptions = {}): Promise<LinearProbeResult> {
  return runStepsAsync(linearProbeSteps(train, test, options), options);
}

export function* linearProbeSteps(train: LabeledFeatures, test: LabeledFeatures, options: LinearProbeOptions): Steps<LinearProbeResult> {
  checkLabeled(test, 'linear probe test features');
  if (test.dim !== train.dim) throw invalid(`linear probe: train features have dimension ${train.dim}, test features ${test.dim}`);
  if (test.numClasses !== train.numClasses) {
    throw invalid(`linear probe: train has ${train.numClasses} classes, test has ${test.numClasses}`);
  }
  const fit = yield* fitLinearProbeSteps(train, options);
  const scores = predictLinear(fit.model, test);
  return { ...classificationReport(scores, test.labels, test.numClasses), l2: fit.l2, validation: fit.validation, trainSeconds: fit.seconds };
}

function meanAndInvStd(x: FeatureMatrix): { mean: Float64Array; invStd: Float64Array } {
  const { n, dim, data } = x;
  const mean = new Float64Array(dim);
  const m2 = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    for (let d = 0; d < dim; d++) mean[d] = mean[d]! + data[o + d]!;
  }
  for (let d = 0; d < dim; d++) mean[d] = mean[d]! / n;
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    for (let d = 0; d < dim; d++) {
      const v = data[o + d]! - mean[d]!;
      m2[d] = m2[d]! + v * v;
    }
  }
  const invStd = new Float64Array(dim);
  for (let d = 0; d < dim; d++) {
    const std = Math.sqrt(m2[d]! / n);
    // A constant feature carries nothing: after centring it is 0 whatever the scale.
    invStd[d] = std > 1e-12 ? 1 / std : 1;
  }
  return { mean, invStd };
}

/** W x̂ + b with x̂ = (x − μ) σ⁻¹  ⇔  (W σ⁻¹) x + (b − (W σ⁻¹) μ). */
function foldStandardisation(params: Float64Array, stats: { mean: Float64Array; invStd: Float64Array }, dim: number, C: number): LinearModel {
  const weights = new Float32Array(C * dim);
  const bias = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    let shift = 0;
    for (let d = 0; d < dim; d++) {
      const w = params[c * dim + d]! * stats.invStd[d]!;
      weights[c * dim + d] = w;
      shift += w * stats.mean[d]!;
    }
    bias[c] = params[C * dim + c]! - shift;
  }
  return { dim, numClasses: C, weights, bias };
}

/** Logits of standardised rows under raw parameters [W | b]. */
function scoresOf(params: Float64Array, X: Float32Array, n: number, dim: number, C: number): Float64Array {
  const out = new Float64Array(n * C);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) {
      let s = params[C * dim + c]!;
      for (let d = 0; d < dim; d++) s += params[c * dim + d]! * X[i * dim + d]!;
      out[i * C + c] = s;
    }
  }
  return out;
}

export type { SoftmaxObjective };
