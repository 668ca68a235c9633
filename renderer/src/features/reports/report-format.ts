/**
 * What the Reports page derives from a report, kept free of the DOM so it can be tested: the headline gains over
 * the baselines, the rows of each protocol table, the papers-style comparison row, and the evaluation form's
 * fields checked by the contract's own EvalInput schema.
 */
import { EvalInput, Protocol, type Report, type ReportSummary } from '../../../../shared/contract/evaluate.js';
import { BackboneName, Method } from '../../../../shared/contract/train.js';

export const PROTOCOLS = Protocol.options;
export const BACKBONES = BackboneName.options;

const METHOD_NAMES: Record<Method, string> = { simclr: 'SimCLR', mocov2: 'MoCo v2', mocov3: 'MoCo v3', byol: 'BYOL', dino: 'DINO' };

type Encoder = Report['encoder'];

/** Accuracy in [0, 1] as the papers print it: "71.3%"; null or NaN as a dash. */
export function percent(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(100 * v).toFixed(digits)}%`;
}

/** A difference of accuracies in percentage points, always signed: "+12.4 pt", "−3.0 pt". */
export function points(delta: number | null): string {
  if (delta === null || !Number.isFinite(delta)) return '—';
  const v = 100 * delta;
  const text = Math.abs(v).toFixed(1);
  return text === '0.0' ? '±0.0 pt' : `${v > 0 ? '+' : '−'}${text} pt`;
}

/** Label-fraction result as "mean ± std" in percent, e.g. "41.2 ± 1.3%". */
export function meanStd(r: { mean: number; std: number }): string {
  return `${(100 * r.mean).toFixed(1)} ± ${(100 * r.std).toFixed(1)}%`;
}

/** "1%" for "0.01", "10%" for "0.1": the label fraction as the semi-supervised tables name it. */
export function fractionLabel(key: string): string {
  const f = Number(key);
  if (!Number.isFinite(f)) return key;
  return `${Number((100 * f).toPrecision(6))}%`;
}

/** Fractions in ascending order, whatever order the record keeps them in. */
export function fractionRows(report: Pick<Report, 'fractions'>): { key: string; label: string; mean: number; std: number; runs: number[] }[] {
  return Object.entries(report.fractions)
    .map(([key, r]) => ({ key, label: fractionLabel(key), mean: r.mean, std: r.std, runs: r.runs }))
    .sort((a, b) => Number(a.key) - Number(b.key));
}

export function methodName(method: string | null): string {
  if (method === null) return 'random init';
  return METHOD_NAMES[method as Method] ?? method;
}

/** How a report's encoder is named in lists and tables: "SimCLR · small (run 3)" or "random init · resnet18". */
export function encoderLabel(e: Encoder): string {
  if (e.kind === 'random') return `random init · ${e.backbone}`;
  return `${methodName(e.method)} · ${e.backbone} (run ${e.runId ?? '?'})`;
}

/** Which runtime computed each feature set, and why not ONNX Runtime where it fell back (main's HTML says the same). */
export function extractionLines(r: Pick<Report, 'extraction'>): string[] {
  return (r.extraction ?? []).map((e) => {
    const how = e.runtime === null ? 'runtime not recorded' : e.runtime === 'onnxruntime' ? 'ONNX Runtime' : `tfjs${e.fallback ? ` (not ONNX Runtime: ${e.fallback})` : ''}`;
    return `${e.features}: ${how}${e.cached ? ', from the feature cache' : ''}`;
  });
}

export function isVit(e: Encoder): boolean {
  return e.backbone.startsWith('vit');
}

export interface Headline {
  linearTop1: number | null;
  linearTop5: number | null;
  k10: number | null;
  k20: number | null;
  k100: number | null;
  /** linear top-1 (or, without a linear probe, kNN k=20) minus the random-init encoder's; null when not measured */
  gainOverRandom: number | null;
  gainOverRandomBasis: 'linear' | 'knn' | null;
  /** linear top-1 minus the raw-pixel probe's */
  gainOverPixels: number | null;
  /** the report is itself of a random-init encoder, so its gain over that baseline says nothing */
  isBaseline: boolean;
}

export function headline(r: Report): Headline {
  const random = r.baselines.random;
  const isBaseline = r.encoder.kind === 'random';
  let gainOverRandom: number | null = null;
  let gainOverRandomBasis: Headline['gainOverRandomBasis'] = null;
  if (!isBaseline) {
    if (r.linear && random.linear) {
      gainOverRandom = r.linear.top1 - random.linear.top1;
      gainOverRandomBasis = 'linear';
    } else if (r.knn && random.knn) {
      gainOverRandom = r.knn.k20 - random.knn.k20;
      gainOverRandomBasis = 'knn';
    }
  }
  return {
    linearTop1: r.linear?.top1 ?? null,
    linearTop5: r.linear?.top5 ?? null,
    k10: r.knn?.k10 ?? null,
    k20: r.knn?.k20 ?? null,
    k100: r.knn?.k100 ?? null,
    gainOverRandom,
    gainOverRandomBasis,
    gainOverPixels: r.linear ? r.linear.top1 - r.baselines.pixels.linear.top1 : null,
    isBaseline,
  };
}

export interface ClassRow {
  index: number;
  name: string;
  accuracy: number;
  /** test images of the class: the confusion matrix's row sum */
  support: number;
}

/** Per-class accuracy with each class's support, from the linear probe's result. */
export function classRows(classes: readonly string[], linear: NonNullable<Report['linear']>): ClassRow[] {
  return linear.perClass.map((accuracy, index) => ({
    index,
    name: classes[index] ?? `class ${index}`,
    accuracy,
    support: (linear.confusion[index] ?? []).reduce((s, v) => s + v, 0),
  }));
}

export interface ConfusionCell {
  row: number;
  col: number;
  count: number;
  /** the count as a share of its true class (row), so classes of any size read on one scale */
  share: number;
}

/** Every cell of the matrix with its row share; rows are the true class, columns the predicted one. */
export function confusionCells(confusion: readonly (readonly number[])[]): ConfusionCell[] {
  const cells: ConfusionCell[] = [];
  confusion.forEach((row, r) => {
    const total = row.reduce((s, v) => s + v, 0);
    row.forEach((count, c) => cells.push({ row: r, col: c, count, share: total > 0 ? count / total : 0 }));
  });
  return cells;
}

/**
 * A cell's fill: correct predictions (the diagonal) in the accent blue, confusions in orange, each with opacity
 * growing with the row share, square-rooted so that small confusions (2-5%) are still visible next to a 90% diagonal.
 */
export function cellFill(cell: Pick<ConfusionCell, 'row' | 'col' | 'share'>): { color: string; opacity: number } {
  const opacity = cell.share <= 0 ? 0 : Math.min(1, 0.08 + 0.92 * Math.sqrt(cell.share));
  return { color: cell.row === cell.col ? '#4f86ee' : '#e0843a', opacity: Math.round(opacity * 1000) / 1000 };
}

/** One row of the papers-style comparison table. */
export interface CompareRow {
  id: number;
  method: string;
  backbone: string;
  epochs: string;
  data: string;
  linearTop1: number | null;
  linearTop5: number | null;
  knnTop1: number | null;
  randomLinearTop1: number | null;
  pixelsLinearTop1: number;
  /** test images also in the train set */
  leakCount: number;
}

export function compareRow(r: Report): CompareRow {
  return {
    id: r.id,
    method: r.encoder.kind === 'random' ? 'Random init' : methodName(r.encoder.method),
    backbone: r.encoder.backbone,
    epochs: r.encoder.kind === 'random' ? '0' : r.encoder.epochs === null ? '—' : String(r.encoder.epochs),
    data: r.trainDataset === r.testDataset ? r.trainDataset : `${r.trainDataset} → ${r.testDataset}`,
    linearTop1: r.linear?.top1 ?? null,
    linearTop5: r.linear?.top5 ?? null,
    // DINO's kNN table reports k = 20.
    knnTop1: r.knn?.k20 ?? null,
    randomLinearTop1: r.baselines.random.linear?.top1 ?? null,
    pixelsLinearTop1: r.baselines.pixels.linear.top1,
    leakCount: r.leakCount,
  };
}

/** Index of the best value of a column among the rows (ties: the first); -1 when no row has one. */
export function bestIndex(values: readonly (number | null)[]): number {
  let best = -1;
  values.forEach((v, i) => {
    if (v !== null && Number.isFinite(v) && (best === -1 || v > values[best]!)) best = i;
  });
  return best;
}

/** A short line for the report list: "linear 41.3% · kNN 38.0%". */
export function summaryLine(s: Pick<ReportSummary, 'linearTop1' | 'knnK20'>): string {
  const parts: string[] = [];
  if (s.linearTop1 !== null) parts.push(`linear ${percent(s.linearTop1)}`);
  if (s.knnK20 !== null) parts.push(`kNN ${percent(s.knnK20)}`);
  return parts.length > 0 ? parts.join(' · ') : 'no protocol';
}

/** The evaluation form's fields as the user types them. */
export interface EvalFormFields {
  /** a run id as text, or 'random' */
  encoder: string;
  backbone: BackboneName;
  trainDataset: string;
  testDataset: string;
  protocols: Record<Protocol, boolean>;
  /** comma-separated, in percent or as fractions: "1, 10" or "0.01, 0.1"; blank for none */
  fractions: string;
  seed: string;
}

export function defaultEvalFields(): EvalFormFields {
  return { encoder: 'random', backbone: 'small', trainDataset: '', testDataset: '', protocols: { linear: true, knn: true }, fractions: '1, 10', seed: '0' };
}

export type EvalFormField = 'encoder' | 'backbone' | 'trainDataset' | 'testDataset' | 'protocols' | 'fractions' | 'seed' | 'form';

/**
 * Parses "1, 10" (percent) or "0.01, 0.1" (fractions) into fractions of the labels. A list with any value of 1 or
 * more is read as percent; a value at or above 100% is refused by the schema afterwards.
 */
export function parseFractions(text: string): { values: number[]; error?: string } {
  const parts = text
    .split(/[\s,;]+/)
    .map((p) => p.replace(/%$/, ''))
    .filter((p) => p !== '');
  const values: number[] = [];
  for (const p of parts) {
    const v = Number(p);
    if (!Number.isFinite(v)) return { values: [], error: `"${p}" is not a number` };
    if (v <= 0) return { values: [], error: 'each fraction must be more than 0' };
    values.push(v);
  }
  const asPercent = text.includes('%') || values.some((v) => v >= 1);
  const fractions = asPercent ? values.map((v) => Number((v / 100).toPrecision(10))) : values;
  return { values: [...new Set(fractions)].sort((a, b) => a - b) };
}

/** The form as an EvalInput, checked by the contract's schema; errors keyed by the field the user can fix. */
export function buildEvalInput(f: EvalFormFields): { input: EvalInput | null; errors: Partial<Record<EvalFormField, string>> } {
  const errors: Partial<Record<EvalFormField, string>> = {};
  const run: number | 'random' = f.encoder === 'random' ? 'random' : Number(f.encoder);
  if (run !== 'random' && !(Number.isInteger(run) && run > 0)) errors.encoder = 'choose a run or the random init';
  if (f.trainDataset === '') errors.trainDataset = 'choose the dataset the probe trains on';
  if (f.testDataset === '') errors.testDataset = 'choose the dataset it is tested on';
  const protocols = PROTOCOLS.filter((p) => f.protocols[p]);
  if (protocols.length === 0) errors.protocols = 'choose at least one protocol';
  const fractions = parseFractions(f.fractions);
  if (fractions.error) errors.fractions = fractions.error;
  const seed = f.seed.trim() === '' ? 0 : Number(f.seed);
  if (!Number.isInteger(seed) || seed < 0) errors.seed = 'a whole number of 0 or more';
  if (Object.keys(errors).length > 0) return { input: null, errors };

  const candidate = {
    run,
    ...(run === 'random' ? { backbone: f.backbone } : {}),
    trainDataset: f.trainDataset,
    testDataset: f.testDataset,
    protocols,
    fractions: fractions.values,
    seed,
  };
  const parsed = EvalInput.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? 'form');
      const field: EvalFormField = key === 'run' ? 'encoder' : (['backbone', 'trainDataset', 'testDataset', 'protocols', 'fractions', 'seed'] as const).find((k) => k === key) ?? 'form';
      errors[field] ??= key === 'fractions' ? (issue.path.length > 1 ? 'each fraction must be between 0 and 100%' : 'at most 5 fractions') : issue.message;
    }
    return { input: null, errors };
  }
  return { input: candidate, errors };
}

