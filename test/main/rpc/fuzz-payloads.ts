// A seeded generator of hostile and half-valid contract payloads, shared by the dispatcher and the WebSocket fuzz
// tests. The seed is printed with every failure, so a failing case reproduces.
import path from 'node:path';
import { requests, type RequestName } from '../../../shared/contract/index.js';
import { mulberry32 } from '../../../main/common/random.js';

export const REQUEST_NAMES = Object.keys(requests) as RequestName[];

/** The keys each request's input schema names, read from the zod object shape (so new requests are covered too). */
export function inputKeys(name: RequestName): string[] {
  const schema = requests[name].input as unknown as { shape?: Record<string, unknown> };
  return schema.shape ? Object.keys(schema.shape) : [];
}

const ALL_KEYS = [...new Set(REQUEST_NAMES.flatMap(inputKeys))];
const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype', '__defineGetter__', 'toString', 'hasOwnProperty', 'valueOf'];
const NUMBERS = [0, -0, 1, -1, 2, 3, 7, 0.5, -2.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, 1e-300, 1e308];
const STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\uffff\ufffe',
  '💥🙂‍↔️',
  'NaN',
  'null',
  'undefined',
  '-1',
  '1e999',
  '0x10',
  "'; DROP TABLE images; --",
  '" OR 1=1 --',
  '%00%2e%2e%2f',
  '../../../../etc/passwd',
  '..\\..\\windows\\system32',
  '/nonexistent-curio-fuzz/folder',
  'relative/nonexistent-curio-fuzz',
  'file:///etc/passwd',
  '<script>alert(1)</script>',
  '{{constructor.constructor("return process")()}}',
  '${process.exit(1)}',
  ...POLLUTION_KEYS,
];
const UNKNOWN_METHODS: unknown[] = [
  '',
  'unknown.request',
  'datasets',
  'datasets.',
  '.list',
  'DATASETS.LIST',
  'datasets.list ',
  ' datasets.list',
  'datasets.list\u0000',
  ...POLLUTION_KEYS,
  'constructor.prototype',
  'x'.repeat(10_000),
  null,
  undefined,
  42,
  NaN,
  true,
  ['datasets.list'],
  { toString: 'datasets.list' },
  { method: 'datasets.list' },
];

export interface FuzzOptions {
  /** also produce values JSON cannot carry (functions, symbols, bigints, cycles, throwing getters) */
  exotic: boolean;
  /** the longest string produced, in UTF-16 code units */
  maxString: number;
}

/**
 * Real ids and names for plausible payloads. Reads may name anything; deletes and imports only name the
 * expendable things, so a test can require the protected dataset to come out unchanged.
 */
export interface FuzzWorld {
  readIds: number[];
  deletableIds: number[];
  /** dataset names a split may read from */
  readDatasets: string[];
  /** folders that exist and hold a few images */
  folders: string[];
  /** the labelled dataset with images that valid payloads name (by id and by name); it must not change */
  dataset?: { id: number; name: string; imageIds: number[] };
  /** an empty folder that valid export payloads write under (each to a new subfolder) */
  outDir?: string;
  /** runs and jobs that exist; a test adds the ones its fuzz started, so later payloads can name them */
  runIds?: number[];
  jobIds?: string[];
  /** stored evaluation reports */
  reportIds?: number[];
}

export interface FuzzCase {
  method: unknown;
  params: unknown;
}

export class PayloadFuzzer {
  private readonly rand: () => number;

  constructor(
    readonly seed: number,
    private readonly options: FuzzOptions,
    /** what exists in the catalog under test, so some payloads get past the schema into the handlers' real work */
    private readonly world: FuzzWorld = { readIds: [], deletableIds: [], readDatasets: [], folders: [] },
  ) {
    this.rand = mulberry32(seed);
  }

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  chance(p: number): boolean {
    return this.rand() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Case i: every request name in turn, with an unknown method in every (names + 1) slots. */
  case(i: number): FuzzCase {
    const slot = i % (REQUEST_NAMES.length + 1);
    if (slot === REQUEST_NAMES.length) return { method: this.pick(UNKNOWN_METHODS), params: this.value(0) };
    const method = REQUEST_NAMES[slot]!;
    return { method, params: this.params(method) };
  }

  params(method: RequestName): unknown {
    const r = this.rand();
    const valid = r < 0.4 ? this.valid(method) : undefined;
    if (valid) return r < 0.2 ? valid : this.mutate(valid);
    if (r < 0.5) return this.nearValid(method, { pollute: false, hostile: 0.05, drop: 0.1 });
    if (r < 0.6) return this.nearValid(method, { pollute: false, hostile: 0.4, drop: 0.2 });
    if (r < 0.65) return this.nearValid(method, { pollute: true, hostile: 0.2, drop: 0.1 });
    return this.value(0);
  }

  /**
   * A payload the request's schema accepts and the seeded catalog can serve: real ids and names, small k and
   * limits, outputs inside the world's temp folder. Undefined where the world lacks what the request needs (no
   * run yet, no dataset). Inputs are kept cheap: one training run at most, short jobs that the test cancels.
   */
  valid(method: RequestName): Record<string, unknown> | undefined {
    const w = this.world;
    const d = w.dataset;
    const run = w.runIds?.length ? this.pick(w.runIds) : undefined;
    const n = this.int(1_000_000);
    const out = w.outDir ? path.join(w.outDir, `out-${n}`) : undefined;
    const pipelineName = this.pick(['fuzz-pipe-a', 'fuzz-pipe-b']);
    const spec = { ops: [{ op: 'random_resized_crop', size: this.pick([8, 16]) }, { op: 'horizontal_flip' }] };
    switch (method) {
      case 'app.info':
      case 'app.pickFolders':
      case 'app.pickModelFile':
      case 'datasets.list':
      case 'jobs.list':
      case 'runs.list':
      case 'pipelines.list':
      case 'reports.list':
        return {};
      case 'datasets.get':
      case 'images.labels':
        return d && { datasetId: d.id };
      case 'datasets.delete':
        return w.deletableIds.length ? { datasetId: this.pick(w.deletableIds) } : undefined;
      case 'datasets.import':
        return w.folders.length ? { paths: [this.pick(w.folders)], dataset: `fuzz-import-${n}`, labelsFromFolders: this.chance(0.5) } : undefined;
      case 'datasets.split':
        return d && { dataset: d.name, into: [{ name: `fuzz-train-${n}`, fraction: 0.5 }, { name: `fuzz-test-${n}`, fraction: 0.5 }], seed: this.int(100) };
      case 'images.list':
        return d && { datasetId: d.id, offset: this.pick([0, 1]), limit: this.pick([1, 5]), ...(this.chance(0.3) ? { label: 'cat' } : {}) };
      case 'images.get':
        return d?.imageIds.length ? { imageId: this.pick(d.imageIds) } : undefined;
      case 'images.failures':
        return d && { datasetId: d.id, limit: this.pick([1, 10]) };
      case 'curate.dedup':
        return d && { dataset: d.name, strategies: this.pick([['exact'], ['phash'], ['exact', 'phash']]), phashDistance: 4, cosine: 0.9, k: 2, keep: this.pick(['resolution', 'size', 'first']) };
      case 'curate.decontaminate':
        return d && { dataset: d.name, against: d.name, cosine: 0.9, phashDistance: 4 };
      case 'curate.balance':
        return d && { dataset: d.name, clusters: 2, keep: this.pick(['nearest', 'random']), seed: this.int(100), maxIterations: 3 };
      case 'curate.retrieve':
        return d && { dataset: d.name, seedDataset: d.name, perImage: 1 };
      case 'curate.export':
        return d && out ? { dataset: d.name, format: this.pick(['csv', 'json']), out, force: false } : undefined;
      case 'curate.review':
        return d && { dataset: d.name, k: 2, clusters: 2 };
      case 'curate.applyReview':
        return d && { dataset: d.name, name: `fuzz-review-${n}`, remove: d.imageIds.slice(0, 1) };
      case 'jobs.cancel':
        return w.jobIds?.length ? { jobId: this.pick(w.jobIds) } : undefined;
      case 'runs.get':
        return run === undefined ? undefined : { runId: run, maxPoints: 10 };
      case 'runs.start':
        // one run is enough to name in runs.*: more would each start a training worker
        return d && !w.runIds?.length
          ? { dataset: d.name, method: 'simclr', backbone: 'small', imageSize: 8, epochs: 1, batchSize: 2, seed: 0, backend: 'cpu', checkpointMinutes: 5, monitorSize: 0 }
          : undefined;
      case 'runs.pause':
      case 'runs.stop':
      case 'runs.resume':
        return run === undefined ? undefined : { runId: run };
      case 'runs.exportEncoder':
        return run !== undefined && out ? { runId: run, format: this.pick(['tfjs', 'onnx']), out } : undefined;
      case 'pipelines.get':
      case 'pipelines.delete':
      case 'pipelines.export':
        return { name: this.pick([pipelineName, 'simclr']) };
      case 'pipelines.create':
        return { name: pipelineName, spec, method: this.pick(['simclr', null]) };
      case 'pipelines.update':
        return { name: pipelineName, spec };
      case 'pipelines.import':
        return { json: JSON.stringify({ name: pipelineName, ...spec }), overwrite: true };
      case 'augment.preset':
        return { method: this.pick(['simclr', 'byol', 'dino']), ...(d ? { datasetId: d.id } : {}), size: 16 };
      case 'augment.preview':
        return d && { datasetId: d.id, pipeline: this.pick(['simclr', spec]), k: 1, m: 1, size: 8, seed: this.int(100), format: this.pick(['png', 'raw']) };
      case 'reports.start':
        return d && { run: 'random', backbone: 'small', trainDataset: d.name, testDataset: d.name, protocols: ['knn'], fractions: [0.5], seed: 0 };
      case 'reports.get':
        return w.reportIds?.length ? { reportId: this.pick(w.reportIds) } : undefined;
      case 'reports.export':
        // not pdf: that one drives a browser
        return w.reportIds?.length && out ? { reportId: this.pick(w.reportIds), format: this.pick(['html', 'json']), out: `${out}.${this.pick(['html', 'json'])}` } : undefined;
      case 'reports.attention':
        return run !== undefined && d ? { runId: run, datasetId: d.id, count: 1 } : undefined;
      default:
        return undefined;
    }
  }

  /** The hostile half of a valid payload: one field dropped, retyped, out of range, huge, or a prototype key added. */
  mutate(valid: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...valid };
    const keys = Object.keys(out);
    const key = keys.length ? this.pick(keys) : undefined;
    const kind = this.int(keys.length ? 6 : 1);
    if (kind === 0) {
      const extra = this.pollutionObject();
      for (const k of Object.keys(extra)) Object.defineProperty(out, k, { value: extra[k], enumerable: true, writable: true, configurable: true });
      if (this.chance(0.5)) out[this.pick(ALL_KEYS)] = this.value(1);
    } else if (kind === 1) delete out[key!];
    else if (kind === 2) out[key!] = this.value(1);
    else if (kind === 3) out[key!] = this.pick([-1, 0, 0.5, 2 ** 53 + 2, 1e308, NaN, -Infinity]);
    else if (kind === 4) out[key!] = 'x'.repeat(this.pick([201, 4097, 1_000_001]));
    else out[key!] = typeof out[key!] === 'string' ? this.pick(['', '../..', 'a/b', '\u0000', ...POLLUTION_KEYS]) : [out[key!]];
    return out;
  }

  /** The request's own keys with plausible or hostile values, sometimes with an extra (polluting) key. */
  nearValid(method: RequestName, mix: { pollute: boolean; hostile: number; drop: number }): Record<string, unknown> {
    const out: Record<string, unknown> = mix.pollute ? this.pollutionObject() : {};
    for (const key of inputKeys(method)) {
      if (this.chance(mix.drop)) continue;
      out[key] = this.chance(mix.hostile) ? this.value(1) : this.plausible(method, key);
    }
    if (this.chance(mix.hostile / 2)) out[this.chance(0.5) ? this.pick(POLLUTION_KEYS) : this.pick(ALL_KEYS)] = this.value(1);
    return out;
  }

  /** A value of roughly the right type for a key of the current contract: mostly valid, sometimes on a boundary. */
  plausible(method: RequestName, key: string): unknown {
    const w = this.world;
    const valid = this.chance(0.75);
    switch (key) {
      case 'datasetId':
      case 'imageId': {
        const real = method === 'datasets.delete' ? w.deletableIds : w.readIds;
        if (valid && real.length) return this.pick(real);
        return this.pick([999_999, 0, -1, 1.5, 2 ** 31, 2 ** 53, '1', null]);
      }
      case 'offset':
        return valid ? this.pick([0, 1, 3, 100]) : this.pick([-1, 0.5, 100_000_001, '0']);
      case 'limit':
        return valid ? this.pick([1, 5, 200, 1000]) : this.pick([0, 1001, 10_001, -1, 2.5]);
      case 'label':
        return valid ? this.pick(['cat', 'dog', null, 'nobody', '%', "'"]) : this.pick(['x'.repeat(501), 3]);
      case 'status':
        return valid ? this.pick(['ok', 'failed', 'missing']) : this.pick(['OK', 'bogus', '']);
      case 'paths':
        if (valid && w.folders.length) return [this.pick(w.folders)];
        return this.pick([[], ['/nonexistent-curio-fuzz/a'], ['relative-nonexistent-curio-fuzz'], [''], ['/nonexistent\u0000/x'], Array(1001).fill('/nonexistent-curio-fuzz/b')]);
      case 'dataset':
        if (valid) return method === 'datasets.import' ? `fuzz-${this.int(1000)}` : this.pick([...w.readDatasets, `fuzz-${this.int(1000)}`]);
        return this.pick(['', ' ', 'a/b', 'a\\b', 'tab\there', 'x'.repeat(201)]);
      case 'labelsFromFolders':
        return valid ? this.chance(0.5) : this.pick(['true', 1]);
      case 'into':
        return valid
          ? [{ name: `fuzz-a${this.int(100_000)}`, fraction: 0.5 }, { name: `fuzz-b${this.int(100_000)}`, fraction: 0.25 }]
          : this.pick([
              [{ name: 'same', fraction: 0.3 }, { name: 'same', fraction: 0.3 }],
              [{ name: 'over', fraction: 0.8 }, { name: 'flow', fraction: 0.8 }],
              [{ name: 'zero', fraction: 0 }],
              [{ name: 'nan', fraction: NaN }],
              [],
              Array.from({ length: 11 }, (_, k) => ({ name: `p${k}`, fraction: 0.05 })),
            ]);
      case 'seed':
        return valid ? this.int(1000) : this.pick([-0.5, 2 ** 53 + 2, '7']);
      case 'jobId':
        return this.pick(['import-00000000', '', 'x'.repeat(101), '../jobs', 'constructor']);
      // augmentation designer (pipelines.*, augment.*): a few names, so saves, gets and deletes meet each other
      case 'name':
      case 'rename':
        return valid ? this.pick(['fuzz-pipe-a', 'fuzz-pipe-b', 'SimCLR']) : this.pick(['', ' ', 'x'.repeat(101), 'tab\there']);
      case 'method':
        return valid ? this.pick(['simclr', 'mocov2', 'mocov3', 'byol', 'dino']) : this.pick(['SIMCLR', '', 'swav']);
      case 'spec':
        return valid
          ? { ops: [{ op: 'random_resized_crop', size: this.pick([8, 16, 32]) }, { op: 'horizontal_flip' }] }
          : this.pick([{ ops: [{ op: 'sharpen' }] }, { ops: [{ op: 'horizontal_flip', p: 2 }] }, { ops: 'none' }, {}]);
      case 'pipeline':
        return valid ? this.pick(['simclr', 'dino', 'fuzz-pipe-a', { ops: [{ op: 'random_resized_crop', size: 16 }] }]) : this.pick(['', 'nope', { ops: [{ op: 'x' }] }]);
      case 'json':
        return valid ? JSON.stringify({ name: 'fuzz-pipe-b', ops: [{ op: 'solarize' }] }) : this.pick(['{"ops": [', '[]', 'null', '{"ops": [{"op": 1}]}']);
      case 'k':
      case 'm':
        return valid ? this.pick([1, 2, 4]) : this.pick([0, 33, 1.5, -1]);
      case 'size':
        return valid ? this.pick([8, 16, 32]) : this.pick([4, 513, 2.5]);
      case 'format':
        return valid ? this.pick(['png', 'raw']) : this.pick(['jpeg', '']);
      // curation review (curate.review, curate.applyReview)
      case 'clusters':
        return valid ? this.pick([1, 3, 12]) : this.pick([0, 13, 2.5]);
      case 'remove':
        return valid ? this.pick([[], w.readIds.slice(0, 1)]) : this.pick([[0], [-1], ['1'], [1.5]]);
      default:
        return this.value(1);
    }
  }

  string(): string {
    const r = this.rand();
    if (r < 0.45) return this.pick(STRINGS);
    if (r < 0.9) {
      const len = this.int(40);
      let s = '';
      for (let i = 0; i < len; i++) {
        const k = this.rand();
        s += String.fromCharCode(k < 0.7 ? 32 + this.int(95) : k < 0.8 ? this.int(32) : k < 0.95 ? 0x80 + this.int(0x3000) : 0xd800 + this.int(0x800));
      }
      return s;
    }
    const len = Math.min(this.options.maxString, 1024 * (1 + this.int(1024)));
    return this.pick(['a', 'é', '/', '\u0000']).repeat(len);
  }

  scalar(): unknown {
    const r = this.rand();
    if (r < 0.1) return null;
    if (r < 0.15) return undefined;
    if (r < 0.25) return this.chance(0.5);
    if (r < 0.5) return this.pick(NUMBERS);
    if (r < 0.6) return this.int(2 ** 31) - 2 ** 30;
    return this.string();
  }

  value(depth: number): unknown {
    const r = this.rand();
    if (depth > 4 || r < 0.5) return this.scalar();
    if (r < 0.65) return Array.from({ length: this.int(6) }, () => this.value(depth + 1));
    if (r < 0.82) {
      const o: Record<string, unknown> = {};
      for (let i = this.int(6); i > 0; i--) o[this.chance(0.6) ? this.pick(ALL_KEYS) : this.string()] = this.value(depth + 1);
      return o;
    }
    if (r < 0.86) return this.pollutionObject();
    if (r < 0.9) return this.nested(1 + this.int(2000));
    if (this.options.exotic) return this.exotic();
    return this.scalar();
  }

  /** What JSON.parse makes of a prototype-pollution attempt: own properties named __proto__ and constructor. */
  pollutionObject(): Record<string, unknown> {
    return JSON.parse('{"__proto__": {"polluted": "yes", "datasetId": 1}, "constructor": {"prototype": {"polluted": "yes"}}}') as Record<string, unknown>;
  }

  nested(depth: number): unknown {
    let v: unknown = this.scalar();
    const asArray = this.chance(0.5);
    for (let i = 0; i < depth; i++) v = asArray ? [v] : { datasetId: v };
    return v;
  }

  exotic(): unknown {
    const cyclic: Record<string, unknown> = { datasetId: 1 };
    cyclic.self = cyclic;
    const choices: (() => unknown)[] = [
      () => () => 'a function',
      () => Symbol('fuzz'),
      () => 10n ** 30n,
      () => new Date(NaN),
      () => new Map([['datasetId', 1]]),
      () => new Set([1]),
      () => cyclic,
      () => Object.create(null) as unknown,
      () => new Uint8Array(16),
      () => Object.defineProperty({}, 'datasetId', { enumerable: true, get: () => { throw new Error('getter trap'); } }),
      () => new Proxy({}, { get: () => { throw new Error('proxy trap'); }, ownKeys: () => { throw new Error('proxy trap'); } }),
      () => Promise.resolve({ datasetId: 1 }),
      () => new Error('an error as payload'),
    ];
    return this.pick(choices)();
  }
}
