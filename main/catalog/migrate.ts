import type { Database } from 'better-sqlite3';
import { CurioError } from '../common/errors.js';
import { type Migration, migrations as shipped } from './migrations/index.js';

export class DatabaseTooNewError extends CurioError {
  constructor(path: string, found: number, known: number) {
    super(
      'failed',
      `The catalog ${path} is at schema version ${found}, newer than this Curio understands (${known}). ` +
        'Update Curio, or open a different catalog with --db.',
    );
    this.name = 'DatabaseTooNewError';
  }
}

/**
 * Brings a catalog up to the newest schema. The runner owns the transaction and PRAGMA user_version: each
 * migration runs in its own transaction together with the version bump, so a crash leaves either the old or the
 * new version, never half of one.
 */
export function runMigrations(db: Database, migrations: readonly Migration[] = shipped): { from: number; to: number } {
  for (let i = 0; i < migrations.length; i++) {
    if (migrations[i]!.version !== i + 1) throw new Error(`migration ${migrations[i]!.name} is out of order`);
  }
  const from = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.length;
  if (from > latest) throw new DatabaseTooNewError(db.name, from, latest);
  for (const m of migrations.slice(from)) {
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return { from, to: latest };
}
