import { invalid } from '../common/errors.js';
import { type LabeledFeatures, checkLabeled, selectRows } from './features.js';
import { type LinearProbeOptions, linearProbeSteps } from './linear-probe.js';
import { stratifiedSubset } from './sampling.js';
import { type AsyncStepOptions, runSteps, runStepsAsync, type Steps } from './steps.js';

/**
 * Semi-supervised label fractions (SimCLR/BYOL tables): a linear probe trained on 1% and 10% of the train
 * labels, drawn class-balanced, once per seed; the report gives mean ± std over the seeds.
 * std is the SAMPLE standard deviation (n − 1 in the denominator), as papers' "± over 3 seeds" usually are.
 */
export const DEFAULT_FRACTIONS: readonly number[] = [0.01, 0.1];
export const DEFAULT_FRACTION_SEEDS: readonly number[] = [0, 1, 2];

/**
 * The labelled subset for one fraction and seed: from each class, round(fraction × its size) rows (at least one),
 * drawn by a seeded shuffle of that class. Sorted ascending. The same labels, fraction and seed give the same rows.
 */
export function labelFractionIndices(labels: Int32Array, numClasses: number, fraction: number, seed: number): Int32Array {
  if (!(fraction > 0 && fraction <= 1)) throw invalid(`label fraction must be in (0, 1], got ${fraction}`);
  return stratifiedSubset(labels, numClasses, (count) => (count === 0 ? 0 : Math.max(1, Math.round(fraction * count))), seed).selected;
}

export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: 0 };
  const ss = values.reduce((a, v) => a + (v - mean) * (v - mean), 0);
  return { mean, std: Math.sqrt(ss / (n - 1)) };
}

export interface FractionRun {
  seed: number;
  labelled: number;
  top1: number;
  top5: number;
  l2: number;
}

export interface FractionResult {
  fraction: number;
  runs: FractionRun[];
  /** top-1 over the seeds: mean and sample std. */
  mean: number;
  std: number;
  top5: { mean: number; std: number };
}

export interface FractionOptions {
  fractions?: readonly number[];
  seeds?: readonly number[];
  probe?: LinearProbeOptions;
  onRun?: (fraction: number, seed: number) => void;
}

export function linearProbeFractions(train: LabeledFeatures, test: LabeledFeatures, options: FractionOptions = {}): FractionResult[] {
  return runSteps(fractionSteps(train, test, options));
}

/** As linearProbeFractions, yielding to the event loop during each fit and cancellable by `signal`. */
export function linearProbeFractionsAsync(train: LabeledFeatures, test: LabeledFeatures, options: FractionOptions & AsyncStepOptions = {}): Promise<FractionResult[]> {
  return runStepsAsync(fractionSteps(train, test, options), options);
}

function* fractionSteps(train: LabeledFeatures, test: LabeledFeatures, options: FractionOptions): Steps<FractionResult[]> {
  checkLabeled(train, 'label-fraction train features');
  const fractions = options.fractions ?? DEFAULT_FRACTIONS;
  const seeds = options.seeds ?? DEFAULT_FRACTION_SEEDS;
  if (seeds.length === 0) throw invalid('label fractions: at least one seed is needed');
  const results: FractionResult[] = [];
  for (const fraction of fractions) {
    const runs: FractionRun[] = [];
    for (const seed of seeds) {
      options.onRun?.(fraction, seed);
      const subset = selectRows(train, labelFractionIndices(train.labels, train.numClasses, fraction, seed));
      yield;
      const r = yield* linearProbeSteps(subset, test, { ...options.probe, seed });
      runs.push({ seed, labelled: subset.n, top1: r.top1, top5: r.top5, l2: r.l2 });
    }
    const top1 = meanStd(runs.map((r) => r.top1));
    results.push({ fraction, runs, mean: top1.mean, std: top1.std, top5: meanStd(runs.map((r) => r.top5)) });
  }
  return results;
}
