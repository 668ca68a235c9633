import type { Database } from 'better-sqlite3';
import m0001 from './0001-initial.js';
import m0002 from './0002-page-order-index.js';
import m0003 from './0003-embeddings.js';
import m0004 from './0004-runs.js';
import m0005 from './0005-pipelines.js';
import m0006 from './0006-reports.js';

export interface Migration {
  version: number;
  name: string;
  up: (db: Database) => void;
}

/** In order; a migration is never edited once it has shipped, only followed by a new one. */
export const migrations: readonly Migration[] = [
  { version: 1, name: '0001-initial', up: m0001 },
  { version: 2, name: '0002-page-order-index', up: m0002 },
  { version: 3, name: '0003-embeddings', up: m0003 },
  { version: 4, name: '0004-runs', up: m0004 },
  { version: 5, name: '0005-pipelines', up: m0005 },
  { version: 6, name: '0006-reports', up: m0006 },
];
