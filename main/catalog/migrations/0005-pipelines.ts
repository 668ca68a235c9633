import type { Database } from 'better-sqlite3';

/** Saved augmentation pipelines by name: the parsed spec as JSON and the method it was designed for. */
export default function migrate(db: Database): void {
  db.exec(`
    CREATE TABLE pipelines (
      id         INTEGER PRIMARY KEY,
      name       TEXT NOT NULL UNIQUE,
      method     TEXT,
      spec       TEXT NOT NULL,
      created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
      updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
  `);
}
