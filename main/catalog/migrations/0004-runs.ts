import type { Database } from 'better-sqlite3';

/** Pretraining runs, their metric history (step and epoch points as JSON) and their log lines. */
export default function migrate(db: Database): void {
  db.exec(`
    CREATE TABLE runs (
      id             INTEGER PRIMARY KEY,
      name           TEXT NOT NULL,
      dataset_id     INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
      config         TEXT NOT NULL,
      status         TEXT NOT NULL,
      created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
      updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
      step           INTEGER NOT NULL DEFAULT 0,
      epoch          INTEGER NOT NULL DEFAULT 0,
      loss           REAL,
      backend        TEXT,
      backend_reason TEXT,
      checkpoint     TEXT,
      error          TEXT,
      owner_pid      INTEGER
    );
    CREATE TABLE run_metrics (
      id     INTEGER PRIMARY KEY,
      run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
      kind   TEXT NOT NULL CHECK (kind IN ('step', 'epoch')),
      step   INTEGER NOT NULL,
      data   TEXT NOT NULL
    );
    CREATE INDEX run_metrics_run ON run_metrics (run_id, id);
    CREATE TABLE run_logs (
      id     INTEGER PRIMARY KEY,
      run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
      line   TEXT NOT NULL,
      time   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX run_logs_run ON run_logs (run_id, id);
  `);
}
