import type { Database } from 'better-sqlite3';

/**
 * Evaluation reports: the whole report as JSON, with the run and both datasets as columns (so a run's or a
 * dataset's reports are found by index) and the headline numbers for the list. Deleting a run or dataset keeps
 * its reports; the JSON still names what was evaluated.
 */
export default function migrate(db: Database): void {
  db.exec(`
    CREATE TABLE reports (
      id               INTEGER PRIMARY KEY,
      run_id           INTEGER REFERENCES runs(id) ON DELETE SET NULL,
      train_dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
      test_dataset_id  INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
      encoder_kind     TEXT NOT NULL CHECK (encoder_kind IN ('run', 'random')),
      linear_top1      REAL,
      knn_k20          REAL,
      data             TEXT NOT NULL,
      created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX reports_run ON reports (run_id, id);
    CREATE INDEX reports_train_dataset ON reports (train_dataset_id);
    CREATE INDEX reports_test_dataset ON reports (test_dataset_id);
  `);
}
