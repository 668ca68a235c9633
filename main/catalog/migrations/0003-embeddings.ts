import type { Database } from 'better-sqlite3';

/**
 * Image embeddings keyed by (encoder, image): the built-in descriptor ('builtin:descriptor-v1') or a trained
 * encoder. Vectors are little-endian float16 BLOBs; sha256 is the file content they were computed from, so a
 * changed file is re-embedded rather than matched with a stale vector.
 */
export default function migrate(db: Database): void {
  db.exec(`
    CREATE TABLE embeddings (
      encoder    TEXT NOT NULL,
      image_id   INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      sha256     TEXT NOT NULL,
      dim        INTEGER NOT NULL CHECK (dim > 0),
      dtype      TEXT NOT NULL CHECK (dtype IN ('f16', 'f32')),
      vector     BLOB NOT NULL,
      created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
      PRIMARY KEY (encoder, image_id)
    ) WITHOUT ROWID;
    CREATE INDEX embeddings_image ON embeddings (image_id);
  `);
}
