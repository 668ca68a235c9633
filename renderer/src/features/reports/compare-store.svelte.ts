import type { Report } from '../../../../shared/contract/evaluate.js';
import { api, errorText } from '../../lib/api.js';
import type { Series } from '../../lib/charts/series.js';
import { encoderLabel } from './report-format.js';

/** Points per curve asked of runs.get: an overlay chart is a few hundred pixels wide. */
const CURVE_POINTS = 600;

/** One colour per compared run, distinct on the dark background. */
export const SERIES_COLORS = ['#6b9cf5', '#e0a43a', '#6fc9a8', '#e87f9a', '#c99bf0', '#8fa3bf', '#d4d46a', '#f08a5d'];

export interface RunCurves {
  runId: number;
  label: string;
  color: string;
  loss: Series['points'];
  knn: Series['points'];
  error: string | null;
}

/** Several reports side by side, with the training curves of the runs behind them. */
export class CompareStore {
  reports = $state.raw<Report[]>([]);
  curves = $state.raw<RunCurves[]>([]);
  loaded = $state(false);
  error = $state<string | null>(null);
  private disposed = false;

  constructor(readonly reportIds: readonly number[]) {}

  readonly lossSeries = $derived<Series[]>(this.curves.map((c) => ({ label: c.label, color: c.color, points: c.loss })));
  readonly knnSeries = $derived<Series[]>(this.curves.map((c) => ({ label: c.label, color: c.color, points: c.knn })));
  /** compared reports of a random-init encoder: they have no training curve */
  readonly untrained = $derived(this.reports.filter((r) => r.encoder.runId === null));

  async load(): Promise<void> {
    try {
      const reports = await Promise.all(this.reportIds.map((reportId) => api.call('reports.get', { reportId })));
      if (this.disposed) return;
      this.reports = reports;
      this.error = null;
    } catch (err) {
      if (!this.disposed) this.error = errorText(err);
      this.loaded = true;
      return;
    }
    // Two reports of the same run share one curve; colours follow the order the runs first appear in.
    const runs = new Map<number, Report>();
    for (const r of this.reports) if (r.encoder.runId !== null && !runs.has(r.encoder.runId)) runs.set(r.encoder.runId, r);
    const curves = await Promise.all(
      [...runs.entries()].map(async ([runId, r], i): Promise<RunCurves> => {
        const base = { runId, label: encoderLabel(r.encoder), color: SERIES_COLORS[i % SERIES_COLORS.length]! };
        try {
          const { metrics } = await api.call('runs.get', { runId, maxPoints: CURVE_POINTS });
          const loss: RunCurves['loss'] = [];
          const knn: RunCurves['knn'] = [];
          for (const m of metrics) {
            if (m.kind === 'step') loss.push({ x: m.step, y: m.loss });
            else if (m.knnTop1 !== null) knn.push({ x: m.epoch, y: m.knnTop1 });
          }
          return { ...base, loss, knn, error: null };
        } catch (err) {
          return { ...base, loss: [], knn: [], error: errorText(err) };
        }
      }),
    );
    if (this.disposed) return;
    this.curves = curves;
    this.loaded = true;
  }

  dispose(): void {
    this.disposed = true;
  }
}
