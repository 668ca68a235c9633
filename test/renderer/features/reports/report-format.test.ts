import { describe, expect, it } from 'vitest';
import { Report } from '../../../../shared/contract/evaluate.js';
import {
  bestIndex,
  buildEvalInput,
  cellFill,
  classRows,
  compareRow,
  confusionCells,
  defaultEvalFields,
  encoderLabel,
  extractionLines,
  fractionRows,
  headline,
  meanStd,
  parseFractions,
  percent,
  points,
} from '../../../../renderer/src/features/reports/report-format.js';

/** A report as main would send it, checked by the contract so the fixture cannot drift from it. */
function makeReport(over: Partial<Report> = {}): Report {
  return Report.parse({
    id: 7,
    createdAt: '2025-01-02T03:04:05.000Z',
    encoder: { kind: 'run', runId: 3, backbone: 'small', method: 'simclr', epochs: 20, steps: 400, imageSize: 32 },
    trainDatasetId: 1,
    testDatasetId: 2,
    trainDataset: 'cifar-train',
    testDataset: 'cifar-test',
    classes: ['cat', 'dog', 'ship'],
    linear: { top1: 0.5, top5: 0.9, perClass: [0.8, 0.2, 0.5], confusion: [[8, 2, 0], [7, 2, 1], [0, 5, 5]], l2: 1e-3 },
    knn: { k10: 0.4, k20: 0.42, k100: 0.38 },
    fractions: { '0.1': { mean: 0.3, std: 0.02, runs: [0.28, 0.3, 0.32] }, '0.01': { mean: 0.2, std: 0.05, runs: [0.15, 0.2, 0.25] } },
    baselines: { random: { linear: { top1: 0.3 }, knn: { k20: 0.25 } }, pixels: { linear: { top1: 0.38 } } },
    warnings: [],
    leakCount: 0,
    seconds: 12,
    ...over,
  });
}

describe('formatting', () => {
  it('prints accuracies and differences the way the papers do', () => {
    expect(percent(0.7134)).toBe('71.3%');
    expect(percent(null)).toBe('—');
    expect(percent(Number.NaN)).toBe('—');
    expect(points(0.124)).toBe('+12.4 pt');
    expect(points(-0.03)).toBe('−3.0 pt');
    expect(points(0.00001)).toBe('±0.0 pt');
    expect(points(null)).toBe('—');
    expect(meanStd({ mean: 0.4123, std: 0.0134 })).toBe('41.2 ± 1.3%');
  });

  it('names encoders', () => {
    expect(encoderLabel(makeReport().encoder)).toBe('SimCLR · small (run 3)');
    expect(encoderLabel({ kind: 'random', runId: null, backbone: 'resnet18', method: null, epochs: null, steps: null, imageSize: 32 })).toBe(
      'random init · resnet18',
    );
  });
});

describe('extraction lines', () => {
  it('name the runtime per feature set, the fallback reason and the cache', () => {
    const lines = extractionLines({
      extraction: [
        { features: 'run 3 features: train', runtime: 'onnxruntime', fallback: null, cached: false },
        { features: 'run 3 features: test', runtime: 'tfjs', fallback: 'onnxruntime-node does not load', cached: true },
        { features: 'random-init features: train', runtime: null, fallback: null, cached: true },
      ],
    });
    expect(lines).toEqual([
      'run 3 features: train: ONNX Runtime',
      'run 3 features: test: tfjs (not ONNX Runtime: onnxruntime-node does not load), from the feature cache',
      'random-init features: train: runtime not recorded, from the feature cache',
    ]);
    expect(extractionLines({})).toEqual([]);
  });
});

describe('headline', () => {
  it('gives the gain over both baselines from the linear probe', () => {
    const h = headline(makeReport());
    expect(h.gainOverRandom).toBeCloseTo(0.2, 12);
    expect(h.gainOverRandomBasis).toBe('linear');
    expect(h.gainOverPixels).toBeCloseTo(0.12, 12);
    expect(h.isBaseline).toBe(false);
  });

  it('falls back to kNN k=20 for the random-init gain when no linear probe ran', () => {
    const h = headline(makeReport({ linear: null, baselines: { random: { linear: null, knn: { k20: 0.25 } }, pixels: { linear: { top1: 0.38 } } } }));
    expect(h.gainOverRandom).toBeCloseTo(0.17, 12);
    expect(h.gainOverRandomBasis).toBe('knn');
    expect(h.gainOverPixels).toBeNull();
    expect(h.linearTop1).toBeNull();
  });

  it('does not claim a gain for a report that is itself the random-init encoder', () => {
    const h = headline(makeReport({ encoder: { kind: 'random', runId: null, backbone: 'small', method: null, epochs: null, steps: null, imageSize: 32 } }));
    expect(h.isBaseline).toBe(true);
    expect(h.gainOverRandom).toBeNull();
  });
});

describe('protocol tables', () => {
  it('orders label fractions numerically and labels them in percent', () => {
    const rows = fractionRows(makeReport());
    expect(rows.map((r) => r.label)).toEqual(['1%', '10%']);
    expect(rows[1]!.runs).toEqual([0.28, 0.3, 0.32]);
  });

  it('pairs per-class accuracy with the support from the confusion row', () => {
    const r = makeReport();
    expect(classRows(r.classes, r.linear!)).toEqual([
      { index: 0, name: 'cat', accuracy: 0.8, support: 10 },
      { index: 1, name: 'dog', accuracy: 0.2, support: 10 },
      { index: 2, name: 'ship', accuracy: 0.5, support: 10 },
    ]);
  });

  it('shares each confusion cell of its true-class row, against a naive double loop', () => {
    const m = [[8, 2, 0], [0, 0, 0], [1, 5, 4]];
    const cells = confusionCells(m);
    expect(cells).toHaveLength(9);
    for (let r = 0; r < 3; r++) {
      let total = 0;
      for (let c = 0; c < 3; c++) total += m[r]![c]!;
      for (let c = 0; c < 3; c++) {
        const cell = cells.find((x) => x.row === r && x.col === c)!;
        expect(cell.count).toBe(m[r]![c]);
        expect(cell.share).toBe(total === 0 ? 0 : m[r]![c]! / total);
      }
    }
  });

  it('shades empty cells not at all, the diagonal and confusions in different hues, more share darker', () => {
    expect(cellFill({ row: 0, col: 1, share: 0 }).opacity).toBe(0);
    expect(cellFill({ row: 0, col: 0, share: 0.5 }).color).not.toBe(cellFill({ row: 0, col: 1, share: 0.5 }).color);
    expect(cellFill({ row: 0, col: 1, share: 0.02 }).opacity).toBeGreaterThan(0.15);
    expect(cellFill({ row: 0, col: 1, share: 0.3 }).opacity).toBeLessThan(cellFill({ row: 0, col: 1, share: 0.6 }).opacity);
    expect(cellFill({ row: 1, col: 1, share: 1 }).opacity).toBe(1);
  });
});

describe('comparison', () => {
  it('builds a papers-style row', () => {
    expect(compareRow(makeReport())).toEqual({
      id: 7,
      method: 'SimCLR',
      backbone: 'small',
      epochs: '20',
      data: 'cifar-train → cifar-test',
      linearTop1: 0.5,
      linearTop5: 0.9,
      knnTop1: 0.42,
      randomLinearTop1: 0.3,
      pixelsLinearTop1: 0.38,
      leakCount: 0,
    });
    const random = compareRow(makeReport({ encoder: { kind: 'random', runId: null, backbone: 'small', method: null, epochs: null, steps: null, imageSize: 32 } }));
    expect(random.method).toBe('Random init');
    expect(random.epochs).toBe('0');
  });

  it('finds the best of a column, skipping missing values', () => {
    expect(bestIndex([0.3, null, 0.5, 0.5])).toBe(2);
    expect(bestIndex([null, null])).toBe(-1);
    expect(bestIndex([])).toBe(-1);
  });
});

describe('evaluation form', () => {
  const fields = () => ({ ...defaultEvalFields(), trainDataset: 'a-train', testDataset: 'a-test' });

  it('reads fractions as percent or as fractions', () => {
    expect(parseFractions('1, 10')).toEqual({ values: [0.01, 0.1] });
    expect(parseFractions('10% 1%')).toEqual({ values: [0.01, 0.1] });
    expect(parseFractions('0.1,0.01')).toEqual({ values: [0.01, 0.1] });
    expect(parseFractions('')).toEqual({ values: [] });
    expect(parseFractions('1, ten').error).toMatch(/not a number/);
    expect(parseFractions('-1').error).toMatch(/more than 0/);
  });

  it('builds the contract input for a random-init baseline and for a run', () => {
    expect(buildEvalInput(fields()).input).toEqual({
      run: 'random',
      backbone: 'small',
      trainDataset: 'a-train',
      testDataset: 'a-test',
      protocols: ['linear', 'knn'],
      fractions: [0.01, 0.1],
      seed: 0,
    });
    const run = buildEvalInput({ ...fields(), encoder: '4', protocols: { linear: false, knn: true }, fractions: '' });
    expect(run.input).toEqual({ run: 4, trainDataset: 'a-train', testDataset: 'a-test', protocols: ['knn'], fractions: [], seed: 0 });
  });

  it('names the field at fault, with the contract deciding the limits', () => {
    expect(buildEvalInput({ ...fields(), trainDataset: '' }).errors.trainDataset).toBeDefined();
    expect(buildEvalInput({ ...fields(), protocols: { linear: false, knn: false } }).errors.protocols).toBeDefined();
    expect(buildEvalInput({ ...fields(), seed: '-2' }).errors.seed).toBeDefined();
    // 100% is not a fraction of the labels; six fractions are more than the contract allows.
    expect(buildEvalInput({ ...fields(), fractions: '1, 100' }).errors.fractions).toMatch(/between 0 and 100%/);
    expect(buildEvalInput({ ...fields(), fractions: '1,2,3,4,5,6' }).errors.fractions).toMatch(/at most 5/);
    expect(buildEvalInput({ ...fields(), fractions: '1,2,3,4,5,6' }).input).toBeNull();
  });
});
