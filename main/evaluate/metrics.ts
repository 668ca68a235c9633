/**
 * Classification metrics over a score matrix [n, numClasses] (row-major; higher is better).
 * Ties rank the lower class index first, the same rule as a stable sort by descending score, so argmax and
 * top-k agree with each other and with any reference that sorts stably.
 */

export interface ClassificationReport {
  n: number;
  top1: number;
  top5: number;
  /** Accuracy of each true class; NaN for a class absent from the labels. */
  perClass: number[];
  /** confusion[trueClass][predictedClass] = count. */
  confusion: number[][];
}

/** Rank of the true class among the scores of one row (0 = predicted). */
function rankOfTrue(scores: ArrayLike<number>, offset: number, numClasses: number, y: number): number {
  const s = scores[offset + y]!;
  let rank = 0;
  for (let c = 0; c < numClasses; c++) {
    const v = scores[offset + c]!;
    if (v > s || (v === s && c < y)) rank++;
  }
  return rank;
}

export function argmaxRows(scores: ArrayLike<number>, n: number, numClasses: number): Int32Array {
  const pred = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * numClasses;
    let best = 0;
    let bestScore = scores[o]!;
    for (let c = 1; c < numClasses; c++) {
      const v = scores[o + c]!;
      if (v > bestScore) {
        bestScore = v;
        best = c;
      }
    }
    pred[i] = best;
  }
  return pred;
}

/** Fraction of rows whose true class is among the k highest scores (k is capped at numClasses). */
export function topKAccuracy(scores: ArrayLike<number>, labels: Int32Array, numClasses: number, k: number): number {
  const n = labels.length;
  if (n === 0) return NaN;
  checkScoreShape(scores, n, numClasses);
  let hits = 0;
  for (let i = 0; i < n; i++) if (rankOfTrue(scores, i * numClasses, numClasses, labels[i]!) < k) hits++;
  return hits / n;
}

export function confusionMatrix(pred: Int32Array, labels: Int32Array, numClasses: number): number[][] {
  if (pred.length !== labels.length) throw new Error(`confusionMatrix: ${pred.length} predictions for ${labels.length} labels`);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]!]![pred[i]!]!++;
  return m;
}

/** Diagonal over row sums of a confusion matrix: the recall of each class (NaN where a class has no rows). */
export function perClassAccuracy(confusion: number[][]): number[] {
  return confusion.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? NaN : row[c]! / total;
  });
}

export function classificationReport(scores: ArrayLike<number>, labels: Int32Array, numClasses: number): ClassificationReport {
  const n = labels.length;
  checkScoreShape(scores, n, numClasses);
  const pred = argmaxRows(scores, n, numClasses);
  const confusion = confusionMatrix(pred, labels, numClasses);
  return {
    n,
    top1: topKAccuracy(scores, labels, numClasses, 1),
    top5: topKAccuracy(scores, labels, numClasses, 5),
    perClass: perClassAccuracy(confusion),
    confusion,
  };
}

function checkScoreShape(scores: ArrayLike<number>, n: number, numClasses: number): void {
  if (scores.length !== n * numClasses) {
    throw new Error(`scores have ${scores.length} values, expected ${n} rows × ${numClasses} classes`);
  }
}
