import {
  DEDUP_DEFAULTS,
  REVIEW_THRESHOLD_MIN,
  REVIEW_THRESHOLD_STEP,
  type ApplyReviewResult,
  type Dataset,
  type DedupGroup,
  type DedupResult,
  type DedupStrategy,
  type JobProgress,
  type KeepRule,
  type ReviewResult,
  type Run,
} from '../../../../shared/contract/index.js';
import { api, errorText } from '../../lib/api.js';

export type Decision = 'accepted' | 'rejected';

/**
 * The Curation page's state: the job setup, the review job (histogram, removal curve, map), the dedup job and its
 * groups with the user's decision on each, and the apply step. Undecided groups count as accepted when applying.
 */
export class CurationStore {
  datasets = $state.raw<Dataset[]>([]);
  dataset = $state('');
  strategies = $state<DedupStrategy[]>([...DEDUP_DEFAULTS.strategies]);
  phashDistance = $state(DEDUP_DEFAULTS.phashDistance);
  cosine = $state(DEDUP_DEFAULTS.cosine);
  keep = $state<KeepRule>(DEDUP_DEFAULTS.keep);
  /** runs whose encoder can embed: finished or stopped, with a checkpoint */
  encoderRuns = $state.raw<Run[]>([]);
  /** 'builtin' (the descriptor), a run id, or 'file' (the model at `modelPath`); dedup and the review embed with the same one */
  encoder = $state<'builtin' | 'file' | number>('builtin');
  /** a .onnx file, a model.json, or a folder holding either (a Curio encoder export); main resolves it */
  modelPath = $state('');
  /** what is wrong with `modelPath` before main is asked; main checks that it exists and loads */
  readonly modelPathProblem = $derived.by(() => {
    if (this.encoder !== 'file') return null;
    const p = this.modelPath.trim();
    if (p === '') return 'Enter the path of a .onnx file, a model.json or an encoder folder.';
    // main runs in another folder than the user thinks of: a relative path would resolve against it
    if (!isAbsolutePath(p)) return 'Give the full path (starting with / or a drive letter).';
    return null;
  });

  dedupJob = $state.raw<JobProgress | null>(null);
  reviewJob = $state.raw<JobProgress | null>(null);
  result = $state.raw<DedupResult | null>(null);
  review = $state.raw<ReviewResult | null>(null);
  decisions = $state.raw<ReadonlyMap<number, Decision>>(new Map());
  focus = $state(0);

  applyName = $state('');
  applying = $state(false);
  applied = $state.raw<(ApplyReviewResult & { count: number | null }) | null>(null);
  error = $state<string | null>(null);

  readonly groups = $derived<DedupGroup[]>(this.result?.groups ?? []);
  /** images the apply step will remove: duplicates of every group not rejected */
  readonly removeIds = $derived(this.groups.filter((g) => this.decisions.get(g.keepId) !== 'rejected').flatMap((g) => g.duplicates.map((d) => d.imageId)));
  readonly counts = $derived({
    accepted: this.groups.filter((g) => this.decisions.get(g.keepId) === 'accepted').length,
    rejected: this.groups.filter((g) => this.decisions.get(g.keepId) === 'rejected').length,
  });
  /** the review's estimate for the current cosine threshold (kNN edges ≥ it, one kept per group) */
  readonly previewRemoved = $derived.by(() => {
    const curve = this.review?.removedAt;
    if (!curve) return null;
    const idx = Math.round((this.cosine - REVIEW_THRESHOLD_MIN) / REVIEW_THRESHOLD_STEP);
    return curve[Math.max(0, Math.min(curve.length - 1, idx))] ?? null;
  });
  readonly previewNeighbours = $derived.by(() => {
    const h = this.review?.nearestHistogram;
    if (!h) return null;
    const from = Math.floor(this.cosine * h.length + 1e-9);
    let n = 0;
    for (let b = Math.max(0, from); b < h.length; b++) n += h[b]!;
    return n;
  });

  private readonly offs: (() => void)[] = [];
  private readonly early = new Map<string, JobProgress>();

  start(): void {
    this.offs.push(
      api.on('onDidProgress', (p) => this.onProgress(p)),
      api.on('onDidChangeDatasets', () => void this.loadDatasets()),
    );
    void this.loadDatasets();
  }

  dispose(): void {
    for (const off of this.offs.splice(0)) off();
  }

  async loadDatasets(): Promise<void> {
    try {
      this.datasets = await api.call('datasets.list', {});
      if (!this.datasets.some((d) => d.name === this.dataset)) this.dataset = this.datasets[0]?.name ?? '';
    } catch (err) {
      this.error = errorText(err);
    }
    try {
      const runs = await api.call('runs.list', {});
      this.encoderRuns = runs.filter((r) => r.checkpoint !== null && (r.status === 'done' || r.status === 'stopped'));
    } catch {
      // without runs the built-in descriptor is the only choice, which is what the select then offers
      this.encoderRuns = [];
    }
    if (typeof this.encoder === 'number' && !this.encoderRuns.some((r) => r.id === this.encoder)) this.encoder = 'builtin';
  }

  toggleStrategy(s: DedupStrategy, on: boolean): void {
    this.strategies = on ? [...new Set([...this.strategies, s])] : this.strategies.filter((x) => x !== s);
  }

  /** The native file dialog (Electron); where there is none (browser mode) the path field is the only way. */
  async pickModelFile(): Promise<void> {
    try {
      const r = await api.call('app.pickModelFile', {});
      if (r.path) this.modelPath = r.path;
    } catch (err) {
      this.error = errorText(err);
    }
  }

  async runReview(dataset = this.dataset): Promise<void> {
    if (!dataset) return;
    if (this.modelPathProblem) {
      this.error = this.modelPathProblem;
      return;
    }
    this.error = null;
    this.review = null;
    try {
      const { jobId } = await api.call('curate.review', { dataset, ...this.encoderInput() });
      this.reviewJob = placeholder(jobId, 'embed');
      this.catchUp(jobId);
    } catch (err) {
      this.error = errorText(err);
    }
  }

  async runDedup(): Promise<void> {
    if (!this.dataset) return;
    if (this.strategies.length === 0) {
      this.error = 'Pick at least one strategy.';
      return;
    }
    if (this.modelPathProblem) {
      this.error = this.modelPathProblem;
      return;
    }
    this.error = null;
    this.result = null;
    this.applied = null;
    this.decisions = new Map();
    this.focus = 0;
    try {
      const { jobId } = await api.call('curate.dedup', {
        dataset: this.dataset,
        strategies: this.strategies,
        phashDistance: this.phashDistance,
        cosine: this.cosine,
        keep: this.keep,
        ...this.encoderInput(),
      });
      this.dedupJob = placeholder(jobId, 'dedup');
      this.catchUp(jobId);
      if (!this.applyName) this.applyName = `${this.dataset}-curated`;
    } catch (err) {
      this.error = errorText(err);
    }
  }

  private encoderInput(): { encoder?: number | string } {
    if (this.encoder === 'builtin') return {};
    return { encoder: this.encoder === 'file' ? this.modelPath.trim() : this.encoder };
  }

  async cancel(job: JobProgress): Promise<void> {
    try {
      await api.call('jobs.cancel', { jobId: job.jobId });
    } catch (err) {
      this.error = errorText(err);
    }
  }

  decide(keepIds: readonly number[], decision: Decision | null): void {
    const next = new Map(this.decisions);
    for (const id of keepIds) {
      if (decision) next.set(id, decision);
      else next.delete(id);
    }
    this.decisions = next;
  }

  decideFocused(decision: Decision): void {
    const g = this.groups[this.focus];
    if (!g) return;
    this.decide([g.keepId], decision);
    this.move(1);
  }

  move(delta: number): void {
    if (this.groups.length === 0) return;
    this.focus = Math.max(0, Math.min(this.groups.length - 1, this.focus + delta));
  }

  async apply(): Promise<void> {
    if (!this.result) return;
    this.applying = true;
    this.error = null;
    try {
      const r = await api.call('curate.applyReview', { dataset: this.result.dataset, name: this.applyName.trim(), remove: this.removeIds });
      // The count shown is the catalog's own, read back, not the one we computed.
      const created = await api.call('datasets.get', { datasetId: r.datasetId }).catch(() => null);
      this.applied = { ...r, count: created ? created.imageCount : null };
      await this.loadDatasets();
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.applying = false;
    }
  }

  /** A short job can end before its id comes back; replay what arrived meanwhile. */
  private catchUp(jobId: string): void {
    const early = this.early.get(jobId);
    this.early.clear();
    if (early) this.onProgress(early);
  }

  private onProgress(p: JobProgress): void {
    if (p.kind === 'dedup' || p.kind === 'embed') this.early.set(p.jobId, p);
    if (p.jobId === this.dedupJob?.jobId) {
      if (this.dedupJob.state !== 'running' && p.state === 'running') return;
      this.dedupJob = p;
      if (p.state === 'done') {
        this.result = p.result as DedupResult;
        // After dedup, not beside it: the descriptors it stored make the review's embedding step a cache read.
        if (this.review?.dataset !== this.result.dataset && this.reviewJob?.state !== 'running') {
          void this.runReview(this.result.dataset);
        }
      }
      if (p.state === 'failed') this.error = p.error ?? 'dedup failed';
    } else if (p.jobId === this.reviewJob?.jobId) {
      if (this.reviewJob.state !== 'running' && p.state === 'running') return;
      this.reviewJob = p;
      if (p.state === 'done') this.review = p.result as ReviewResult;
      if (p.state === 'failed') this.error = p.error ?? 'review failed';
    }
  }
}

/** POSIX /…, Windows C:\… or C:/…, and UNC \\server\share paths. */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

function placeholder(jobId: string, kind: JobProgress['kind']): JobProgress {
  return { jobId, kind, state: 'running', phase: 'starting', done: 0, total: null, failed: 0, rate: 0, etaSeconds: null, elapsedSeconds: 0 };
}
