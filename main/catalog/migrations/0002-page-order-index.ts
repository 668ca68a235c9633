import type { Database } from 'better-sqlite3';

/**
 * The thumbnail grid's first query, a page of a whole dataset in import order, had no index that yields rows
 * in id order: SQLite read every row of the dataset and sorted them (a temp B-tree) to return 200. An index on
 * (dataset_id, id) hands out the page directly.
 */
export default function migrate(db: Database): void {
  db.exec('CREATE INDEX images_dataset_order ON images (dataset_id, id);');
}
