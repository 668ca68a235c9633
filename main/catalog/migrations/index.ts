import type { Database } from 'better-sqlite3';
import m0001 from './0001-initial.js';

export interface Migration {
  version: number;
  name: string;
  up: (db: Database) => void;
}

/** In order; a migration is never edited once it has shipped, only followed by a new one. */
export const migrations: readonly Migration[] = [{ version: 1, name: '0001-initial', up: m0001 }];
