import type { Database, Statement } from 'better-sqlite3';
import { parsePipelineSpec, PipelineSpecError, type PipelineSpec, type PresetMethod } from '../../shared/contract/augment.js';
import { methodFromName } from '../../shared/contract/pipeline-checks.js';
import type { SavedPipeline } from '../../shared/contract/pipelines.js';
import type { Catalog } from '../catalog/catalog.js';
import { conflict, invalid, notFound } from '../common/errors.js';

interface PipelineRow {
  id: number;
  name: string;
  method: PresetMethod | null;
  spec: string;
  created_at: string;
  updated_at: string;
}

/**
 * Saved augmentation pipelines (table from migration 0005-pipelines). Every write parses the spec first, so a bad
 * spec throws before the row is touched; the stored spec is the parsed one, defaults filled in, which is what a run
 * would snapshot.
 */
export class PipelineStore {
  private readonly db: Database;
  private readonly s: Record<'list' | 'get' | 'insert' | 'update' | 'delete', Statement>;

  constructor(catalog: Catalog) {
    this.db = catalog.db;
    this.s = {
      list: this.db.prepare('SELECT * FROM pipelines ORDER BY name COLLATE NOCASE, id'),
      get: this.db.prepare('SELECT * FROM pipelines WHERE name = ?'),
      insert: this.db.prepare('INSERT INTO pipelines (name, method, spec) VALUES (?, ?, ?)'),
      update: this.db.prepare(
        "UPDATE pipelines SET name = ?, method = ?, spec = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
      ),
      delete: this.db.prepare('DELETE FROM pipelines WHERE name = ?'),
    };
  }

  list(): SavedPipeline[] {
    return (this.s.list.all() as PipelineRow[]).map(toSaved);
  }

  /** The saved pipeline of that name, or undefined. */
  find(name: string): SavedPipeline | undefined {
    const row = this.s.get.get(name) as PipelineRow | undefined;
    return row ? toSaved(row) : undefined;
  }

  get(name: string): SavedPipeline {
    const found = this.find(name);
    if (!found) throw notFound(`no saved pipeline named "${name}"`);
    return found;
  }

  create(name: string, spec: unknown, method: PresetMethod | null = null): SavedPipeline {
    const parsed = validSpec(spec);
    if (this.find(name)) throw conflict(`a pipeline named "${name}" already exists`);
    this.s.insert.run(name, method ?? methodFromName(parsed.name), JSON.stringify(parsed));
    return this.get(name);
  }

  /** Replaces the spec (and the method, and the name when `rename` is given) in one statement. */
  update(name: string, spec: unknown, options: { method?: PresetMethod | null; rename?: string } = {}): SavedPipeline {
    const parsed = validSpec(spec);
    const current = this.get(name);
    const target = options.rename ?? name;
    if (target !== name && this.find(target)) throw conflict(`a pipeline named "${target}" already exists`);
    const method = options.method !== undefined ? options.method : current.method;
    this.s.update.run(target, method, JSON.stringify(parsed), current.id);
    return this.get(target);
  }

  delete(name: string): boolean {
    return this.s.delete.run(name).changes > 0;
  }

  /**
   * Saves JSON text (the spec itself). The name defaults to the spec's own `name`; overwrite replaces an existing
   * pipeline of that name, otherwise that is a conflict.
   */
  import(json: string, options: { name?: string; overwrite?: boolean } = {}): SavedPipeline {
    const parsed = validSpec(json);
    const name = (options.name ?? parsed.name ?? '').trim();
    if (!name) throw invalid('name: give the pipeline a name (the JSON has no "name" field)', ['name: required']);
    if (this.find(name)) {
      if (!options.overwrite) throw conflict(`a pipeline named "${name}" already exists`);
      return this.update(name, parsed);
    }
    return this.create(name, parsed);
  }

  /** The spec as pretty JSON; importing it gives the same spec back. */
  export(name: string): string {
    return `${JSON.stringify(this.get(name).spec, null, 2)}\n`;
  }
}

function validSpec(spec: unknown): PipelineSpec {
  try {
    return parsePipelineSpec(spec);
  } catch (err) {
    if (err instanceof PipelineSpecError) throw invalid(err.message, err.issues);
    throw err;
  }
}

function toSaved(row: PipelineRow): SavedPipeline {
  return {
    id: row.id,
    name: row.name,
    method: row.method,
    spec: JSON.parse(row.spec) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
