import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePipelineSpec, presetFor, PRESET_METHODS } from '../../../shared/contract/augment.js';
import { PipelineStore } from '../../../main/augment/pipeline-store.js';
import { Catalog } from '../../../main/catalog/catalog.js';
import { CurioError } from '../../../main/common/errors.js';

let catalog: Catalog;
let store: PipelineStore;
beforeEach(() => {
  catalog = Catalog.open(':memory:');
  store = new PipelineStore(catalog);
});
afterEach(() => catalog.close());

function thrown(fn: () => unknown): CurioError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CurioError);
    return err as CurioError;
  }
  throw new Error('expected an error');
}

describe('PipelineStore', () => {
  it('creates, lists, gets, updates, renames and deletes by name', () => {
    const simclr = presetFor('simclr', 32);
    const saved = store.create('cifar simclr', simclr, 'simclr');
    expect(saved).toMatchObject({ name: 'cifar simclr', method: 'simclr', spec: simclr });
    store.create('a dino', presetFor('dino', 32));
    expect(store.list().map((p) => [p.name, p.method])).toEqual([
      ['a dino', 'dino'], // method inferred from the spec's own name
      ['cifar simclr', 'simclr'],
    ]);
    const stronger = { ...simclr, ops: simclr.ops.map((o) => (o.op === 'color_jitter' ? { ...o, strength: 1.5 } : o)) };
    const updated = store.update('cifar simclr', stronger, { rename: 'cifar simclr s1.5' });
    expect(updated.name).toBe('cifar simclr s1.5');
    expect(updated.method).toBe('simclr');
    expect(updated.id).toBe(saved.id);
    expect((updated.spec.ops as { op: string; strength?: number }[]).find((o) => o.op === 'color_jitter')!.strength).toBe(1.5);
    expect(store.find('cifar simclr')).toBeUndefined();
    expect(store.delete('cifar simclr s1.5')).toBe(true);
    expect(store.delete('cifar simclr s1.5')).toBe(false);
    expect(thrown(() => store.get('cifar simclr s1.5')).code).toBe('not-found');
  });

  it('stores the parsed spec with defaults filled, which is what a run snapshots', () => {
    const saved = store.create('short', { ops: [{ op: 'random_resized_crop', size: 32 }, { op: 'color_jitter' }] });
    expect(saved.spec).toEqual(parsePipelineSpec({ ops: [{ op: 'random_resized_crop', size: 32 }, { op: 'color_jitter' }] }));
    expect((saved.spec.ops as { scale?: number[] }[])[0]!.scale).toEqual([0.08, 1]);
  });

  it('a failed save leaves the stored pipeline untouched and names the field', () => {
    const good = presetFor('byol', 96);
    store.create('byol', good, 'byol');
    const before = store.get('byol');
    const bad = { ...good, ops: good.ops.map((o) => (o.op === 'gaussian_blur' ? { ...o, sigma: [3, 1] } : o)) };
    const err = thrown(() => store.update('byol', bad));
    expect(err.code).toBe('invalid-input');
    expect(err.message).toMatch(/ops\[4\]\.sigma: min must not exceed max/);
    expect(thrown(() => store.update('byol', { ...good, views: 99 })).message).toMatch(/views: /);
    expect(thrown(() => store.import('{"ops": [', { name: 'byol', overwrite: true })).message).toMatch(/not valid JSON/);
    expect(thrown(() => store.import('{"ops": [{"op": "sharpen"}]}', { name: 'byol', overwrite: true })).message).toMatch(/ops\[0\]\.op/);
    expect(store.get('byol')).toEqual(before);
    expect(thrown(() => store.create('byol', good)).code).toBe('conflict');
    store.create('other', presetFor('simclr', 32));
    expect(thrown(() => store.update('other', good, { rename: 'byol' })).code).toBe('conflict');
    expect(store.get('byol')).toEqual(before);
  });

  it('export → import is lossless for every preset at 32 and 224 px, and import takes the name from the JSON', () => {
    for (const size of [32, 224]) {
      for (const method of PRESET_METHODS) {
        const name = `${method}-${size}`;
        const spec = presetFor(method, size);
        store.create(name, spec, method);
        const json = store.export(name);
        expect(JSON.parse(json)).toEqual(spec);
        const copy = store.import(json, { name: `${name} copy` });
        expect(copy.spec).toEqual(spec);
        expect(store.export(`${name} copy`)).toBe(json);
      }
    }
    const named = store.import(JSON.stringify({ name: 'From File', ops: [{ op: 'random_resized_crop', size: 16 }] }));
    expect(named.name).toBe('From File');
    expect(thrown(() => store.import(JSON.stringify({ ops: [] }))).message).toMatch(/^name: /);
    expect(thrown(() => store.import(JSON.stringify({ name: 'From File', ops: [] }))).code).toBe('conflict');
    expect(store.import(JSON.stringify({ name: 'From File', ops: [] }), { overwrite: true }).spec.ops).toEqual([]);
  });
});
