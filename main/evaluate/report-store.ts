import type { Database, Statement } from 'better-sqlite3';
import { Report, type ReportSummary } from '../../shared/contract/evaluate.js';
import type { Catalog } from '../catalog/catalog.js';
import { CurioError, notFound } from '../common/errors.js';

interface ReportRow {
  id: number;
  data: string;
  created_at: string;
}

/** Evaluation reports in the catalog (table from migration 0006-reports). */
export class ReportStore {
  private readonly db: Database;
  private readonly s: { insert: Statement; get: Statement; list: Statement; byRun: Statement };

  constructor(catalog: Catalog) {
    this.db = catalog.db;
    this.s = {
      insert: this.db.prepare(
        'INSERT INTO reports (run_id, train_dataset_id, test_dataset_id, encoder_kind, linear_top1, knn_k20, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      get: this.db.prepare('SELECT id, data, created_at FROM reports WHERE id = ?'),
      list: this.db.prepare('SELECT id, data, created_at FROM reports ORDER BY id DESC'),
      byRun: this.db.prepare('SELECT id, data, created_at FROM reports WHERE run_id = ? ORDER BY id DESC'),
    };
  }

  /** Stores a report (its id and creation time are assigned here) and returns it whole, checked against the contract. */
  insert(report: Omit<Report, 'id' | 'createdAt'>): Report {
    // A run deleted meanwhile must not fail the insert on its foreign key; the JSON still names it.
    const runId = report.encoder.runId !== null && this.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(report.encoder.runId) ? report.encoder.runId : null;
    const id = this.db.transaction(() => {
      const info = this.s.insert.run(
        runId,
        report.trainDatasetId,
        report.testDatasetId,
        report.encoder.kind,
        report.linear?.top1 ?? null,
        report.knn?.k20 ?? null,
        '{}',
      );
      const newId = Number(info.lastInsertRowid);
      const created = (this.db.prepare('SELECT created_at FROM reports WHERE id = ?').get(newId) as { created_at: string }).created_at;
      const whole = Report.parse({ ...report, id: newId, createdAt: created });
      this.db.prepare('UPDATE reports SET data = ? WHERE id = ?').run(JSON.stringify(whole), newId);
      return newId;
    }).immediate();
    return this.get(id);
  }

  get(id: number): Report {
    const row = this.s.get.get(id) as ReportRow | undefined;
    if (!row) throw notFound(`no report with id ${id}`);
    return parseRow(row);
  }

  list(): ReportSummary[] {
    return (this.s.list.all() as ReportRow[]).map((row) => summary(parseRow(row)));
  }

  forRun(runId: number): ReportSummary[] {
    return (this.s.byRun.all(runId) as ReportRow[]).map((row) => summary(parseRow(row)));
  }
}

function parseRow(row: ReportRow): Report {
  let json: unknown;
  try {
    json = JSON.parse(row.data);
  } catch {
    throw new CurioError('failed', `report ${row.id} is damaged in the catalog (not JSON)`);
  }
  const parsed = Report.safeParse(json);
  if (!parsed.success) throw new CurioError('failed', `report ${row.id} in the catalog does not match the report schema: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

export function summary(r: Report): ReportSummary {
  return {
    id: r.id,
    createdAt: r.createdAt,
    encoder: r.encoder,
    trainDataset: r.trainDataset,
    testDataset: r.testDataset,
    linearTop1: r.linear?.top1 ?? null,
    knnK20: r.knn?.k20 ?? null,
  };
}
