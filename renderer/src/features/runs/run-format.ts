import type { Run } from '../../../../shared/contract/train.js';
import { METHOD_LABELS } from './run-form.js';

/** A run's stored config is free-form JSON to the contract; read the fields the page names, defensively. */
export function runLabel(run: Run): { method: string; backbone: string; dataset: string; backendChoice: string } {
  const c = run.config;
  const text = (v: unknown, fallback: string) => (typeof v === 'string' && v !== '' ? v : fallback);
  const method = text(c.method, '?');
  return {
    method: METHOD_LABELS[method as keyof typeof METHOD_LABELS] ?? method,
    backbone: text(c.backbone, '?'),
    dataset: text(c.dataset, run.datasetId === null ? '(deleted dataset)' : `dataset ${run.datasetId}`),
    backendChoice: text(c.backend, 'auto'),
  };
}

/**
 * The epoch a run is in or has just finished, counted from 1 as the run's log counts them; 0 before its first
 * step. (A step's `epoch` field is the 0-based index of the epoch it belongs to.)
 */
export function epochNumber(run: Pick<Run, 'step' | 'epoch'>): number {
  return run.step > 0 ? run.epoch + 1 : 0;
}

/** Losses span ~0.01 to ~10: four significant digits read well across that range. */
export function formatLoss(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '—';
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

/** Learning rates span 1e-6 to 10; exponent notation keeps them comparable. */
export function formatLr(v: number): string {
  if (!Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  return v >= 0.01 && v < 100 ? v.toPrecision(3) : v.toExponential(1);
}

export function formatPercent(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '—';
}

/** Axis and header values of small positive quantities (images/s, embedding std). */
export function formatCompact(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return `${(v / 1000).toPrecision(3)}k`;
  if (a >= 10) return v.toFixed(0);
  if (a >= 0.01) return v.toPrecision(2);
  return v.toExponential(1);
}

/** The config as key/value rows for display; nested values (a pipeline spec) as compact JSON. */
export function configRows(config: Record<string, unknown>): { key: string; value: string }[] {
  return Object.entries(config).map(([key, v]) => ({
    key,
    value: v === null || v === undefined ? '—' : typeof v === 'object' ? summarizeObject(v) : String(v),
  }));
}

function summarizeObject(v: object): string {
  // A resolved pipeline spec: list its ops rather than pages of parameters.
  const { name, ops } = v as { name?: unknown; ops?: unknown };
  if (!Array.isArray(ops)) return JSON.stringify(v);
  const list = ops.map((o) => (o && typeof o === 'object' && 'op' in o ? String((o as { op: unknown }).op) : '?')).join(' → ');
  return typeof name === 'string' && name !== '' ? `${name}: ${list}` : list;
}
