import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import type { Dataset, ImageDetail, ImageRow, ImageStatus } from '../../shared/contract/datasets.js';
import { CurioError, conflict, notFound } from '../common/errors.js';
import { DatabaseTooNewError, runMigrations } from './migrate.js';
import { migrations } from './migrations/index.js';
import { sqliteNativeBinding } from './sqlite-binding.js';

export type DatasetKind = Dataset['kind'];

interface DatasetRow {
  id: number;
  name: string;
  kind: DatasetKind;
  parent_id: number | null;
  created_at: string;
}

interface ImageDbRow {
  id: number;
  dataset_id: number;
  folder_id: number | null;
  path: string;
  bytes: number | null;
  mtime_ms: number | null;
  width: number | null;
  height: number | null;
  format: string | null;
  sha256: string | null;
  phash: string | null;
  label: string | null;
  status: ImageStatus;
  error: string | null;
  thumbnail: number;
  imported_at: string;
}

/** What an import writes for one file: a decoded image, or a failure with its reason. */
export interface ImageRecord {
  path: string;
  folderId: number;
  bytes: number | null;
  mtimeMs: number | null;
  width: number | null;
  height: number | null;
  format: string | null;
  sha256: string | null;
  phash: string | null;
  label: string | null;
  status: ImageStatus;
  error: string | null;
  thumbnail: boolean;
}

export interface KnownFile {
  id: number;
  bytes: number | null;
  mtimeMs: number | null;
  status: ImageStatus;
}

export interface ImagePageQuery {
  datasetId: number;
  offset: number;
  limit: number;
  label?: string | null | undefined;
  status?: ImageStatus | undefined;
}

/** The fields every consumer of a dataset (split, train, curate, evaluate) reads per image. */
export interface DatasetImage {
  id: number;
  path: string;
  label: string | null;
  sha256: string | null;
  phash: string | null;
  width: number | null;
  height: number | null;
  bytes: number | null;
}

const IMAGE_COLUMNS = 'i.id, i.path, i.label, i.status, i.width, i.height, i.sha256, i.thumbnail';

export class Catalog {
  readonly db: Database;
  readonly path: string;
  private readonly stmts: ReturnType<typeof prepare>;

  private constructor(db: Database, dbPath: string) {
    this.db = db;
    this.path = dbPath;
    this.stmts = prepare(db);
  }

  /**
   * Opens (or creates) a catalog file in WAL mode and brings its schema up to date. A catalog made by a newer
   * Curio is refused with a clear error rather than touched.
   */
  static open(dbPath: string, options: { readonly?: boolean } = {}): Catalog {
    const resolved = dbPath === ':memory:' ? dbPath : path.resolve(dbPath);
    if (resolved !== ':memory:') {
      const dir = path.dirname(resolved);
      if (options.readonly && !fs.existsSync(resolved)) throw notFound(`catalog not found: ${resolved}`);
      fs.mkdirSync(dir, { recursive: true });
    }
    let db: Database;
    try {
      db = new BetterSqlite3(resolved, { readonly: options.readonly ?? false, nativeBinding: sqliteNativeBinding() });
    } catch (err) {
      throw new CurioError('failed', `cannot open catalog ${resolved}: ${(err as Error).message}`);
    }
    try {
      // Before anything writes (switching to WAL rewrites the header): a newer Curio's catalog is left untouched.
      const found = db.pragma('user_version', { simple: true }) as number;
      if (found > migrations.length) throw new DatabaseTooNewError(resolved, found, migrations.length);
      if (!options.readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      }
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.pragma('cache_size = -65536');
      if (options.readonly) {
        const version = db.pragma('user_version', { simple: true }) as number;
        runMigrationsCheckOnly(db, version);
      } else {
        runMigrations(db);
      }
    } catch (err) {
      db.close();
      throw err;
    }
    return new Catalog(db, resolved);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- datasets ----------------------------------------------------------------------------------------------

  createDataset(name: string, kind: DatasetKind, parentId: number | null = null, description: string | null = null): number {
    if (this.stmts.datasetByName.get(name)) throw conflict(`a dataset named "${name}" already exists`);
    const info = this.stmts.insertDataset.run(name, kind, parentId, description);
    return Number(info.lastInsertRowid);
  }

  /** The dataset an import adds to: the existing import dataset of that name, or a new one. */
  ensureImportDataset(name: string): number {
    const row = this.stmts.datasetByName.get(name) as DatasetRow | undefined;
    if (row) {
      if (row.kind !== 'import') throw conflict(`"${name}" is a ${row.kind} dataset; import into a new name instead`);
      return row.id;
    }
    return this.createDataset(name, 'import');
  }

  datasetIdByName(name: string): number {
    const row = this.stmts.datasetByName.get(name) as DatasetRow | undefined;
    if (!row) throw notFound(`no dataset named "${name}"`);
    return row.id;
  }

  findDatasetByName(name: string): DatasetRow | undefined {
    return this.stmts.datasetByName.get(name) as DatasetRow | undefined;
  }

  datasetRow(id: number): DatasetRow {
    const row = this.stmts.datasetById.get(id) as DatasetRow | undefined;
    if (!row) throw notFound(`no dataset with id ${id}`);
    return row;
  }

  getDataset(id: number): Dataset {
    const row = this.datasetRow(id);
    const counts = { ok: 0, failed: 0, missing: 0 };
    let labelCount = 0;
    if (row.kind === 'import') {
      for (const c of this.stmts.statusCounts.all(id) as { status: ImageStatus; n: number }[]) counts[c.status] = c.n;
      labelCount = (this.stmts.labelCountImport.get(id) as { n: number }).n;
    } else {
      for (const c of this.stmts.memberStatusCounts.all(id) as { status: ImageStatus; n: number }[]) counts[c.status] = c.n;
      labelCount = (this.stmts.labelCountMembers.get(id) as { n: number }).n;
    }
    const folders = (this.stmts.foldersOf.all(id) as { path: string }[]).map((f) => f.path);
    return {
      id: row.id,
      name: row.name,
      kind: row.kind,
      parentId: row.parent_id,
      createdAt: row.created_at,
      imageCount: counts.ok + counts.failed + counts.missing,
      okCount: counts.ok,
      failedCount: counts.failed,
      missingCount: counts.missing,
      labelCount,
      folders,
    };
  }

  listDatasets(): Dataset[] {
    return (this.stmts.allDatasets.all() as { id: number }[]).map((r) => this.getDataset(r.id));
  }

  /** Removes a dataset's rows (and, for an import dataset, its image rows). Files on disk are never touched. */
  deleteDataset(id: number): boolean {
    return this.stmts.deleteDataset.run(id).changes > 0;
  }

  // ---- folders -----------------------------------------------------------------------------------------------

  upsertFolder(datasetId: number, folderPath: string, labelsFromFolders: boolean): number {
    this.stmts.upsertFolder.run(datasetId, folderPath, labelsFromFolders ? 1 : 0);
    return (this.stmts.folderId.get(datasetId, folderPath) as { id: number }).id;
  }

  markFolderScanned(folderId: number): void {
    this.stmts.folderScanned.run(folderId);
  }

  // ---- images ------------------------------------------------------------------------------------------------

  /** What the catalog already holds for a dataset, by path, so a re-import can skip unchanged files. */
  knownFiles(datasetId: number): Map<string, KnownFile> {
    const map = new Map<string, KnownFile>();
    for (const r of this.stmts.knownFiles.iterate(datasetId) as Iterable<{
      id: number;
      path: string;
      bytes: number | null;
      mtime_ms: number | null;
      status: ImageStatus;
    }>) {
      map.set(r.path, { id: r.id, bytes: r.bytes, mtimeMs: r.mtime_ms, status: r.status });
    }
    return map;
  }

  /** Writes a batch of import results in one transaction; a file seen before is updated in place. */
  upsertImages(datasetId: number, records: readonly ImageRecord[]): void {
    this.stmts.upsertMany(datasetId, records);
  }

  markMissing(ids: readonly number[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.stmts.markMissing.run(id);
    })();
  }

  /** One page of a dataset in import order. An import dataset reads images; a derived one reads its members. */
  listImages(q: ImagePageQuery): { total: number; items: ImageRow[] } {
    const { countSql, pageSql, params } = this.imagePageSql(q);
    const total = this.cachedCount(countSql, params);
    const rows = this.cached(pageSql).all(...params, q.limit, q.offset) as (ImageDbRow & { member_label?: string | null })[];
    return {
      total,
      items: rows.map((r) => ({
        id: r.id,
        path: r.path,
        label: r.member_label !== undefined ? r.member_label : r.label,
        status: r.status,
        width: r.width,
        height: r.height,
        sha256: r.sha256,
        hasThumbnail: r.thumbnail === 1,
      })),
    };
  }

  /** SQLite's plan for the two statements listImages runs, so tests and benchmarks can check the indexes used. */
  explainListImages(q: ImagePageQuery): { count: string[]; page: string[] } {
    const { countSql, pageSql, params } = this.imagePageSql(q);
    const plan = (sql: string, args: unknown[]) =>
      (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail);
    return { count: plan(countSql, params), page: plan(pageSql, [...params, q.limit, q.offset]) };
  }

  private imagePageSql(q: ImagePageQuery): { countSql: string; pageSql: string; params: unknown[] } {
    const row = this.datasetRow(q.datasetId);
    const where: string[] = [];
    const params: unknown[] = [q.datasetId];
    const source =
      row.kind === 'import'
        ? { from: 'images i', dataset: 'i.dataset_id = ?', label: 'i.label', order: 'i.id' }
        : {
            from: 'dataset_members m JOIN images i ON i.id = m.image_id',
            dataset: 'm.dataset_id = ?',
            label: 'm.label',
            order: 'm.image_id',
          };
    where.push(source.dataset);
    if (q.label !== undefined) {
      if (q.label === null) where.push(`${source.label} IS NULL`);
      else {
        where.push(`${source.label} = ?`);
        params.push(q.label);
      }
    }
    if (q.status !== undefined) {
      where.push('i.status = ?');
      params.push(q.status);
    }
    const whereSql = where.join(' AND ');
    const labelSelect = row.kind === 'import' ? '' : ', m.label AS member_label';
    return {
      countSql: `SELECT COUNT(*) AS n FROM ${source.from} WHERE ${whereSql}`,
      pageSql: `SELECT ${IMAGE_COLUMNS}${labelSelect} FROM ${source.from} WHERE ${whereSql} ORDER BY ${source.order} LIMIT ? OFFSET ?`,
      params,
    };
  }

  getImage(id: number): ImageDetail {
    const r = this.stmts.imageById.get(id) as ImageDbRow | undefined;
    if (!r) throw notFound(`no image with id ${id}`);
    return {
      id: r.id,
      datasetId: r.dataset_id,
      path: r.path,
      label: r.label,
      status: r.status,
      width: r.width,
      height: r.height,
      sha256: r.sha256,
      phash: r.phash,
      bytes: r.bytes,
      format: r.format,
      error: r.error,
      mtimeMs: r.mtime_ms,
      importedAt: r.imported_at,
      hasThumbnail: r.thumbnail === 1,
    };
  }

  labels(datasetId: number): { label: string | null; count: number }[] {
    const row = this.datasetRow(datasetId);
    const stmt = row.kind === 'import' ? this.stmts.labelsImport : this.stmts.labelsMembers;
    return stmt.all(datasetId) as { label: string | null; count: number }[];
  }

  failures(datasetId: number, limit: number): { id: number; path: string; error: string }[] {
    return (this.stmts.failures.all(datasetId, limit) as { id: number; path: string; error: string | null }[]).map((r) => ({
      id: r.id,
      path: r.path,
      error: r.error ?? 'unknown error',
    }));
  }

  /** Every usable (status ok) image of a dataset, import or derived, in a stable order. */
  datasetImages(datasetId: number): DatasetImage[] {
    const row = this.datasetRow(datasetId);
    const stmt = row.kind === 'import' ? this.stmts.okImagesImport : this.stmts.okImagesMembers;
    return stmt.all(datasetId) as DatasetImage[];
  }

  /** Creates a derived dataset holding the given images (with their labels) in one transaction. */
  createDerivedDataset(
    name: string,
    kind: Exclude<DatasetKind, 'import'>,
    parentId: number,
    members: readonly { imageId: number; label: string | null }[],
    description: string | null = null,
  ): number {
    return this.db.transaction(() => {
      const id = this.createDataset(name, kind, parentId, description);
      for (const m of members) this.stmts.insertMember.run(id, m.imageId, m.label);
      return id;
    }).immediate();
  }

  /**
   * COUNT(*) of a filtered page walks every matching index entry (~10 ms per 100k rows), and a scrolling grid
   * asks for the same total page after page. A total is reused while the database is unchanged: this
   * connection's total_changes() and the data_version that other connections' commits bump both stand still.
   */
  private readonly countCache = new Map<string, { stamp: string; n: number }>();
  private cachedCount(countSql: string, params: unknown[]): number {
    const v = this.cached('SELECT total_changes() AS c, data_version AS v FROM pragma_data_version').get() as { c: number; v: number };
    const stamp = `${v.c}:${v.v}`;
    const key = `${countSql}\u0000${JSON.stringify(params)}`;
    const hit = this.countCache.get(key);
    if (hit && hit.stamp === stamp) return hit.n;
    const n = (this.cached(countSql).get(...params) as { n: number }).n;
    if (this.countCache.size >= 256) this.countCache.clear();
    this.countCache.set(key, { stamp, n });
    return n;
  }

  private readonly statementCache = new Map<string, Statement>();
  private cached(sql: string): Statement {
    let s = this.statementCache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statementCache.set(sql, s);
    }
    return s;
  }
}

/** Read-only opens (benchmarks, inspection) cannot migrate; they refuse any schema but the current one. */
function runMigrationsCheckOnly(db: Database, version: number): void {
  const latest = migrations.length;
  if (version > latest) throw new DatabaseTooNewError(db.name, version, latest);
  if (version < latest) {
    throw new CurioError('failed', `The catalog ${db.name} is at schema version ${version}; open it once without read-only to upgrade it.`);
  }
}

function prepare(db: Database) {
  const upsertImage = db.prepare(`
    INSERT INTO images (dataset_id, folder_id, path, bytes, mtime_ms, width, height, format, sha256, phash, label, status, error, thumbnail)
    VALUES (@datasetId, @folderId, @path, @bytes, @mtimeMs, @width, @height, @format, @sha256, @phash, @label, @status, @error, @thumbnail)
    ON CONFLICT (dataset_id, path) DO UPDATE SET
      folder_id = excluded.folder_id, bytes = excluded.bytes, mtime_ms = excluded.mtime_ms, width = excluded.width,
      height = excluded.height, format = excluded.format, sha256 = excluded.sha256, phash = excluded.phash,
      label = excluded.label, status = excluded.status, error = excluded.error, thumbnail = excluded.thumbnail,
      imported_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  `);
  const upsertMany = db.transaction((datasetId: number, records: readonly ImageRecord[]) => {
    for (const r of records) upsertImage.run({ ...r, datasetId, thumbnail: r.thumbnail ? 1 : 0 });
  });
  return {
    insertDataset: db.prepare('INSERT INTO datasets (name, kind, parent_id, description) VALUES (?, ?, ?, ?)'),
    datasetByName: db.prepare('SELECT id, name, kind, parent_id, created_at FROM datasets WHERE name = ?'),
    datasetById: db.prepare('SELECT id, name, kind, parent_id, created_at FROM datasets WHERE id = ?'),
    allDatasets: db.prepare('SELECT id FROM datasets ORDER BY id'),
    deleteDataset: db.prepare('DELETE FROM datasets WHERE id = ?'),
    statusCounts: db.prepare('SELECT status, COUNT(*) AS n FROM images WHERE dataset_id = ? GROUP BY status'),
    memberStatusCounts: db.prepare(
      'SELECT i.status AS status, COUNT(*) AS n FROM dataset_members m JOIN images i ON i.id = m.image_id WHERE m.dataset_id = ? GROUP BY i.status',
    ),
    labelCountImport: db.prepare(
      "SELECT COUNT(DISTINCT label) AS n FROM images WHERE dataset_id = ? AND label IS NOT NULL AND status = 'ok'",
    ),
    labelCountMembers: db.prepare('SELECT COUNT(DISTINCT label) AS n FROM dataset_members WHERE dataset_id = ? AND label IS NOT NULL'),
    foldersOf: db.prepare('SELECT path FROM folders WHERE dataset_id = ? ORDER BY id'),
    upsertFolder: db.prepare(`
      INSERT INTO folders (dataset_id, path, labels_from_folders) VALUES (?, ?, ?)
      ON CONFLICT (dataset_id, path) DO UPDATE SET labels_from_folders = excluded.labels_from_folders
    `),
    folderId: db.prepare('SELECT id FROM folders WHERE dataset_id = ? AND path = ?'),
    folderScanned: db.prepare("UPDATE folders SET scanned_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?"),
    knownFiles: db.prepare('SELECT id, path, bytes, mtime_ms, status FROM images WHERE dataset_id = ?'),
    upsertMany,
    markMissing: db.prepare("UPDATE images SET status = 'missing', error = 'file no longer exists' WHERE id = ?"),
    imageById: db.prepare('SELECT * FROM images WHERE id = ?'),
    labelsImport: db.prepare(
      "SELECT label, COUNT(*) AS count FROM images WHERE dataset_id = ? AND status = 'ok' GROUP BY label ORDER BY label",
    ),
    labelsMembers: db.prepare('SELECT label, COUNT(*) AS count FROM dataset_members WHERE dataset_id = ? GROUP BY label ORDER BY label'),
    failures: db.prepare("SELECT id, path, error FROM images WHERE dataset_id = ? AND status = 'failed' ORDER BY id LIMIT ?"),
    okImagesImport: db.prepare(
      "SELECT id, path, label, sha256, phash, width, height, bytes FROM images WHERE dataset_id = ? AND status = 'ok' ORDER BY id",
    ),
    okImagesMembers: db.prepare(`
      SELECT i.id, i.path, m.label, i.sha256, i.phash, i.width, i.height, i.bytes
      FROM dataset_members m JOIN images i ON i.id = m.image_id
      WHERE m.dataset_id = ? AND i.status = 'ok' ORDER BY m.image_id
    `),
    insertMember: db.prepare('INSERT INTO dataset_members (dataset_id, image_id, label) VALUES (?, ?, ?)'),
  };
}
