import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../../main/catalog/catalog.js';
import { DatabaseTooNewError, runMigrations } from '../../../main/catalog/migrate.js';
import { type Migration, migrations } from '../../../main/catalog/migrations/index.js';
import { makeTempDir, removeDir } from '../ingest/fixtures.js';

const userVersion = (db: BetterSqlite3.Database) => db.pragma('user_version', { simple: true }) as number;
const names = (db: BetterSqlite3.Database, type: 'table' | 'index') =>
  (db.prepare('SELECT name FROM sqlite_master WHERE type = ? ORDER BY name').all(type) as { name: string }[]).map((r) => r.name);

describe('shipped migrations', () => {
  it('are numbered 1..n in order, with files named after their number', () => {
    migrations.forEach((m, i) => {
      expect(m.version).toBe(i + 1);
      expect(m.name.startsWith(String(m.version).padStart(4, '0'))).toBe(true);
      expect(fs.existsSync(path.join(import.meta.dirname, '../../../main/catalog/migrations', `${m.name}.ts`))).toBe(true);
    });
  });

  // Each migration applied on top of the ones before it, on ':memory:', one at a time.
  it.each(migrations.map((m) => [m.name, m] as const))('%s applies on :memory: and sets user_version', (_name, m) => {
    const db = new BetterSqlite3(':memory:');
    try {
      runMigrations(db, migrations.slice(0, m.version - 1));
      const before = { tables: names(db, 'table'), indexes: names(db, 'index') };
      const result = runMigrations(db, migrations.slice(0, m.version));
      expect(result).toEqual({ from: m.version - 1, to: m.version });
      expect(userVersion(db)).toBe(m.version);
      const after = { tables: names(db, 'table'), indexes: names(db, 'index') };
      // every migration adds schema; none drops what was there
      expect(after.tables.length + after.indexes.length).toBeGreaterThan(before.tables.length + before.indexes.length);
      for (const t of before.tables) expect(after.tables).toContain(t);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });

  it('0001 creates datasets, folders and images with every field an image row holds', () => {
    const db = new BetterSqlite3(':memory:');
    runMigrations(db, migrations.slice(0, 1));
    expect(names(db, 'table')).toEqual(expect.arrayContaining(['datasets', 'folders', 'images', 'dataset_members']));
    const columns = (db.prepare('PRAGMA table_info(images)').all() as { name: string }[]).map((c) => c.name);
    expect(columns).toEqual(
      expect.arrayContaining(['path', 'bytes', 'width', 'height', 'format', 'sha256', 'phash', 'label', 'status', 'error']),
    );
    db.prepare("INSERT INTO datasets (name, kind) VALUES ('d', 'import')").run();
    expect(() => db.prepare("INSERT INTO images (dataset_id, path, status) VALUES (1, '/a.jpg', 'weird')").run()).toThrow(/CHECK/);
    db.prepare("INSERT INTO images (dataset_id, path, status) VALUES (1, '/a.jpg', 'ok')").run();
    expect(() => db.prepare("INSERT INTO images (dataset_id, path, status) VALUES (1, '/a.jpg', 'ok')").run()).toThrow(/UNIQUE/);
    db.close();
  });

  it('0002 adds the (dataset_id, id) index for the unfiltered page', () => {
    const db = new BetterSqlite3(':memory:');
    runMigrations(db, migrations.slice(0, 2));
    expect(names(db, 'index')).toContain('images_dataset_order');
    db.close();
  });
});

describe('the migration runner', () => {
  it('is idempotent: a second run at the newest version does nothing', () => {
    const db = new BetterSqlite3(':memory:');
    expect(runMigrations(db)).toEqual({ from: 0, to: migrations.length });
    expect(runMigrations(db)).toEqual({ from: migrations.length, to: migrations.length });
    expect(userVersion(db)).toBe(migrations.length);
    db.close();
  });

  it('rolls a failing migration back whole, leaving the previous version', () => {
    const db = new BetterSqlite3(':memory:');
    const broken: Migration[] = [
      { version: 1, name: '0001-a', up: (d) => d.exec('CREATE TABLE a (x)') },
      {
        version: 2,
        name: '0002-broken',
        up: (d) => {
          d.exec('CREATE TABLE b (x)');
          d.exec('THIS IS NOT SQL');
        },
      },
    ];
    expect(() => runMigrations(db, broken)).toThrow();
    expect(userVersion(db)).toBe(1);
    expect(names(db, 'table')).toEqual(['a']);
    db.close();
  });

  it('refuses migrations listed out of order', () => {
    const db = new BetterSqlite3(':memory:');
    const swapped: Migration[] = [
      { version: 2, name: '0002-b', up: () => undefined },
      { version: 1, name: '0001-a', up: () => undefined },
    ];
    expect(() => runMigrations(db, swapped)).toThrow(/out of order/);
    expect(userVersion(db)).toBe(0);
    db.close();
  });
});

describe('a catalog file', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('catalog-file');
  });
  afterEach(() => removeDir(dir));

  it('opens in WAL mode at the newest schema version', () => {
    const file = path.join(dir, 'nested', 'catalog.sqlite');
    const catalog = Catalog.open(file);
    expect(catalog.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(catalog.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(userVersion(catalog.db)).toBe(migrations.length);
    catalog.close();
  });

  it('refuses a database newer than the app with a clear error, and leaves it untouched', () => {
    const file = path.join(dir, 'future.sqlite');
    const raw = new BetterSqlite3(file);
    raw.exec('CREATE TABLE from_the_future (x)');
    raw.pragma('user_version = 99');
    raw.close();
    const before = fs.readFileSync(file);

    let error: unknown;
    try {
      Catalog.open(file).close();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DatabaseTooNewError);
    expect((error as Error).message).toBe(
      `The catalog ${file} is at schema version 99, newer than this Curio understands (${migrations.length}). ` +
        'Update Curio, or open a different catalog with --db.',
    );
    expect(() => Catalog.open(file, { readonly: true })).toThrow(DatabaseTooNewError);

    const after = new BetterSqlite3(file, { readonly: true });
    expect(userVersion(after)).toBe(99);
    expect(names(after, 'table')).toEqual(['from_the_future']);
    after.close();
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('upgrades an older catalog in place and keeps its rows', () => {
    const file = path.join(dir, 'old.sqlite');
    const raw = new BetterSqlite3(file);
    runMigrations(raw, migrations.slice(0, 1));
    raw.prepare("INSERT INTO datasets (name, kind) VALUES ('kept', 'import')").run();
    raw.close();
    const catalog = Catalog.open(file);
    expect(userVersion(catalog.db)).toBe(migrations.length);
    expect(catalog.listDatasets().map((d) => d.name)).toEqual(['kept']);
    catalog.close();
  });

  it('refuses a read-only open of an older schema, which it cannot upgrade', () => {
    const file = path.join(dir, 'old.sqlite');
    const raw = new BetterSqlite3(file);
    runMigrations(raw, migrations.slice(0, 1));
    raw.close();
    if (migrations.length > 1) expect(() => Catalog.open(file, { readonly: true })).toThrow(/open it once without read-only/);
    expect(() => Catalog.open(path.join(dir, 'absent.sqlite'), { readonly: true })).toThrow(/catalog not found/);
  });

  it('says which file it could not open', () => {
    const file = path.join(dir, 'not-a-db.sqlite');
    fs.writeFileSync(file, 'plain text, not SQLite '.repeat(100));
    expect(() => Catalog.open(file)).toThrow(/not-a-db\.sqlite|not a database/);
  });
});
