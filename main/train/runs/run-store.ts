import type { Database, Statement } from 'better-sqlite3';
import type { Run, RunConfig, RunMetrics, RunStatus } from '../../../shared/contract/train.js';
import type { Catalog } from '../../catalog/catalog.js';
import { notFound } from '../../common/errors.js';

interface RunRow {
  id: number;
  name: string;
  dataset_id: number | null;
  config: string;
  status: RunStatus;
  created_at: string;
  updated_at: string;
  step: number;
  epoch: number;
  loss: number | null;
  backend: string | null;
  backend_reason: string | null;
  checkpoint: string | null;
  error: string | null;
}

/** Runs and their metric history in the catalog (tables from migration 0004-runs). */
export class RunStore {
  private readonly db: Database;
  private readonly s: Record<string, Statement>;

  constructor(catalog: Catalog) {
    this.db = catalog.db;
    this.s = {
      insert: this.db.prepare('INSERT INTO runs (name, dataset_id, config, status) VALUES (?, ?, ?, ?)'),
      get: this.db.prepare('SELECT * FROM runs WHERE id = ?'),
      list: this.db.prepare('SELECT * FROM runs ORDER BY id DESC'),
      status: this.db.prepare("UPDATE runs SET status = ?, error = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?"),
      progress: this.db.prepare(
        "UPDATE runs SET step = ?, epoch = ?, loss = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
      ),
      backend: this.db.prepare('UPDATE runs SET backend = ?, backend_reason = ? WHERE id = ?'),
      checkpoint: this.db.prepare('UPDATE runs SET checkpoint = ? WHERE id = ?'),
      metric: this.db.prepare('INSERT INTO run_metrics (run_id, kind, step, data) VALUES (?, ?, ?, ?)'),
      metrics: this.db.prepare('SELECT data FROM run_metrics WHERE run_id = ? ORDER BY id'),
      dropMetricsAfter: this.db.prepare('DELETE FROM run_metrics WHERE run_id = ? AND step > ?'),
      log: this.db.prepare('INSERT INTO run_logs (run_id, line) VALUES (?, ?)'),
      logs: this.db.prepare('SELECT line FROM run_logs WHERE run_id = ? ORDER BY id DESC LIMIT ?'),
      owner: this.db.prepare('UPDATE runs SET owner_pid = ? WHERE id = ?'),
      active: this.db.prepare("SELECT id, owner_pid FROM runs WHERE status IN ('running', 'queued', 'paused')"),
    };
  }

  create(name: string, datasetId: number, config: RunConfig): number {
    return Number(this.s.insert!.run(name, datasetId, JSON.stringify(config), 'queued').lastInsertRowid);
  }

  get(id: number): Run {
    const row = this.s.get!.get(id) as RunRow | undefined;
    if (!row) throw notFound(`no run with id ${id}`);
    return toRun(row);
  }

  config(id: number): RunConfig {
    return this.get(id).config as RunConfig;
  }

  list(): Run[] {
    return (this.s.list!.all() as RunRow[]).map(toRun);
  }

  setStatus(id: number, status: RunStatus, error: string | null = null): void {
    this.s.status!.run(status, error, id);
  }

  setBackend(id: number, backend: string, reason: string): void {
    this.s.backend!.run(backend, reason, id);
  }

  setCheckpoint(id: number, file: string): void {
    this.s.checkpoint!.run(file, id);
  }

  /** A run resumed from a checkpoint forgets the metrics it logged after that checkpoint, so curves don't double. */
  truncateMetricsAfter(id: number, step: number): void {
    this.s.dropMetricsAfter!.run(id, step);
  }

  addMetrics(m: RunMetrics): void {
    this.s.metric!.run(m.runId, m.kind, m.step, JSON.stringify(m));
    if (m.kind === 'step') this.s.progress!.run(m.step, m.epoch, m.loss, m.runId);
  }

  metrics(id: number, maxPoints: number): RunMetrics[] {
    const all = (this.s.metrics!.all(id) as { data: string }[]).map((r) => JSON.parse(r.data) as RunMetrics);
    const steps = all.filter((m) => m.kind === 'step');
    const epochs = all.filter((m) => m.kind === 'epoch');
    // Thin long step curves evenly so a chart gets at most maxPoints, the last point included; epoch points are
    // few and kept whole.
    const stride = Math.max(1, Math.ceil((steps.length - 1) / Math.max(1, maxPoints - 1)));
    const thinned = steps.filter((_, i) => i % stride === 0 || i === steps.length - 1);
    return [...thinned, ...epochs].sort((a, b) => a.step - b.step || (a.kind === 'step' ? -1 : 1));
  }

  log(id: number, line: string): void {
    this.s.log!.run(id, line);
  }

  logs(id: number, limit = 500): string[] {
    return (this.s.logs!.all(id, limit) as { line: string }[]).map((r) => r.line).reverse();
  }

  setOwner(id: number, pid: number): void {
    this.s.owner!.run(pid, id);
  }

  /**
   * Runs whose owning process is gone (killed, crashed, machine restarted) are marked interrupted, so they show as
   * resumable instead of running forever. A run owned by a live process (the app while the CLI looks) is left alone.
   */
  markInterrupted(): number {
    let n = 0;
    for (const r of this.s.active!.all() as { id: number; owner_pid: number | null }[]) {
      if (r.owner_pid !== null && processAlive(r.owner_pid)) continue;
      this.setStatus(r.id, 'interrupted');
      n++;
    }
    return n;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function toRun(r: RunRow): Run {
  return {
    id: r.id,
    name: r.name,
    datasetId: r.dataset_id,
    config: JSON.parse(r.config) as Record<string, unknown>,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    step: r.step,
    epoch: r.epoch,
    loss: r.loss,
    backend: r.backend,
    backendReason: r.backend_reason,
    checkpoint: r.checkpoint,
    error: r.error,
  };
}
