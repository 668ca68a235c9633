import type { Database } from 'better-sqlite3';

/** Datasets, the folders they were imported from, and one row per image file. */
export default function migrate(db: Database): void {
  db.exec(`
    CREATE TABLE datasets (
      id          INTEGER PRIMARY KEY,
      name        TEXT NOT NULL UNIQUE,
      kind        TEXT NOT NULL CHECK (kind IN ('import', 'split', 'curated')),
      parent_id   INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
      description TEXT,
      created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );

    CREATE TABLE folders (
      id                  INTEGER PRIMARY KEY,
      dataset_id          INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
      path                TEXT NOT NULL,
      labels_from_folders INTEGER NOT NULL DEFAULT 0,
      added_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
      scanned_at          TEXT,
      UNIQUE (dataset_id, path)
    );

    -- One row per file of an imported dataset. Derived datasets (splits, curated versions) point at these rows
    -- through dataset_members, so a file is stored once however many versions hold it.
    CREATE TABLE images (
      id          INTEGER PRIMARY KEY,
      dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
      folder_id   INTEGER REFERENCES folders(id) ON DELETE CASCADE,
      path        TEXT NOT NULL,
      bytes       INTEGER,
      mtime_ms    REAL,
      width       INTEGER,
      height      INTEGER,
      format      TEXT,
      sha256      TEXT,
      phash       TEXT,
      label       TEXT,
      status      TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'missing')),
      error       TEXT,
      thumbnail   INTEGER NOT NULL DEFAULT 0,
      imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
      UNIQUE (dataset_id, path)
    );
    CREATE INDEX images_dataset_label ON images (dataset_id, label, id);
    CREATE INDEX images_dataset_status ON images (dataset_id, status, id);
    CREATE INDEX images_sha256 ON images (sha256);

    CREATE TABLE dataset_members (
      dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
      image_id   INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      label      TEXT,
      PRIMARY KEY (dataset_id, image_id)
    ) WITHOUT ROWID;
    CREATE INDEX dataset_members_label ON dataset_members (dataset_id, label, image_id);
    CREATE INDEX dataset_members_image ON dataset_members (image_id);
  `);
}
