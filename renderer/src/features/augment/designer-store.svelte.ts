import {
  issuePath,
  localCropSize,
  PipelineSpec,
  type AugmentOp,
  type Dataset,
  type PipelineSpecInput,
  type PresetMethod,
  type PreviewOutput,
  type SavedPipeline,
} from '../../../../shared/contract/index.js';
import { opStrengths, pipelineWarnings, type OpStrength, type PipelineWarning } from '../../../../shared/contract/pipeline-checks.js';
import { api, errorText } from '../../lib/api.js';
import { newOp, type OpName } from './op-fields.js';

/** Edits settle this long before a preview is requested, so typing a number sends one request, not one per key. */
export const PREVIEW_DEBOUNCE_MS = 200;

/**
 * The Augmentations page's state: the dataset, the pipeline being edited (a plain spec, validated on every
 * change by the contract's own schema), the live preview and the saved pipelines.
 */
export class AugmentDesigner {
  datasets = $state.raw<Dataset[]>([]);
  datasetId = $state<number | null>(null);
  /** the dataset's typical image size (what a run would use), or what the user typed */
  imageSize = $state(32);
  /** the method the pipeline is meant for: drives the warnings */
  method = $state<PresetMethod | null>('simclr');
  spec = $state<PipelineSpecInput>({ ops: [] });
  seed = $state(0);
  k = $state(8);
  m = $state(4);

  preview = $state.raw<PreviewOutput | null>(null);
  previewError = $state<string | null>(null);
  previewBusy = $state(false);
  saved = $state.raw<SavedPipeline[]>([]);
  /** the saved pipeline's name this spec was loaded from or saved as */
  name = $state('');
  message = $state<string | null>(null);
  error = $state<string | null>(null);

  /** the spec as main would parse it, or the issues by field path (`ops[2].sigma`) */
  readonly checked = $derived.by(() => {
    const r = PipelineSpec.safeParse($state.snapshot(this.spec));
    if (r.success) return { spec: r.data, issues: {} as Record<string, string> };
    const issues: Record<string, string> = {};
    for (const i of r.error.issues) issues[issuePath(i.path)] ??= i.message;
    return { spec: null, issues };
  });
  readonly strengths = $derived<OpStrength[]>(this.checked.spec ? opStrengths(this.checked.spec) : []);
  readonly warnings = $derived<PipelineWarning[]>(this.checked.spec ? pipelineWarnings(this.checked.spec, this.method) : []);

  private requestNo = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  async load(): Promise<void> {
    try {
      const [datasets, saved] = await Promise.all([api.call('datasets.list', {}), api.call('pipelines.list', {})]);
      this.datasets = datasets.filter((d) => d.okCount > 0);
      this.saved = saved;
      if (this.datasetId === null || !this.datasets.some((d) => d.id === this.datasetId)) {
        this.datasetId = this.datasets[0]?.id ?? null;
      }
      if (this.spec.ops.length === 0) await this.applyPreset(this.method ?? 'simclr');
      this.error = null;
    } catch (err) {
      this.error = errorText(err);
    }
  }

  async reloadSaved(): Promise<void> {
    this.saved = await api.call('pipelines.list', {});
  }

  /** The method's preset, sized to the dataset's typical image size. */
  async applyPreset(method: PresetMethod): Promise<void> {
    try {
      const r = await api.call('augment.preset', { method, ...(this.datasetId !== null ? { datasetId: this.datasetId } : {}) });
      this.imageSize = r.imageSize;
      this.spec = r.spec as PipelineSpecInput;
      this.method = method;
      this.name = '';
      this.error = null;
    } catch (err) {
      this.error = errorText(err);
    }
  }

  /** A new dataset brings its own image size; crops that followed the old size follow the new one. */
  async selectDataset(id: number): Promise<void> {
    this.datasetId = id;
    try {
      const r = await api.call('augment.preset', { method: this.method ?? 'simclr', datasetId: id });
      this.setImageSize(r.imageSize);
    } catch (err) {
      this.error = errorText(err);
    }
  }

  setImageSize(size: number): void {
    const from = this.imageSize;
    if (!Number.isInteger(size) || size < 8 || size > 512 || size === from) return;
    const first = this.spec.ops[0];
    if (first?.op === 'random_resized_crop' && first.size === from) first.size = size;
    const mc = this.spec.multiCrop;
    if (mc) {
      if (mc.global.size === from) mc.global.size = size;
      if (mc.local.size === localCropSize(from)) mc.local.size = localCropSize(size);
    }
    this.imageSize = size;
  }

  addOp(op: OpName): void {
    const created = newOp(op, this.imageSize) as AugmentOp;
    // the crop sets the view size, so it goes first
    if (op === 'random_resized_crop') this.spec.ops.unshift(created);
    else this.spec.ops.push(created);
  }

  removeOp(index: number): void {
    const [removed] = this.spec.ops.splice(index, 1);
    if (removed && !this.spec.ops.some((o) => o.op === removed.op)) {
      this.spec.overrides = (this.spec.overrides ?? []).filter((o) => o.op !== removed.op);
    }
  }

  moveOp(index: number, delta: -1 | 1): void {
    const to = index + delta;
    if (to < 0 || to >= this.spec.ops.length) return;
    const ops = this.spec.ops;
    [ops[index], ops[to]] = [ops[to]!, ops[index]!];
  }

  /** How many views the pipeline makes: its multi-crop's globals and locals, or `views`. */
  get viewCount(): number {
    const mc = this.spec.multiCrop;
    return mc ? mc.global.count + mc.local.count : (this.spec.views ?? 2);
  }

  /**
   * A per-view override of the last op that is not the crop (BYOL's asymmetric blur and solarize are of this
   * kind), on the last view, starting from that op's probability. The schema checks it like any other field.
   */
  addOverride(): void {
    const ops = this.spec.ops;
    const op = [...ops].reverse().find((o) => o.op !== 'random_resized_crop') ?? ops[0];
    if (!op) {
      this.error = 'add an op first: an override changes an op of the pipeline for some views';
      return;
    }
    const set = 'p' in op && op.p !== undefined ? { p: op.p } : {};
    (this.spec.overrides ??= []).push({ views: [this.viewCount - 1], op: op.op, set } as NonNullable<PipelineSpecInput['overrides']>[number]);
  }

  removeOverride(index: number): void {
    this.spec.overrides?.splice(index, 1);
  }

  setMultiCrop(on: boolean): void {
    if (on) {
      this.spec.multiCrop = {
        global: { count: 2, size: this.imageSize, scale: [0.4, 1] },
        local: { count: 8, size: localCropSize(this.imageSize), scale: [0.05, 0.4] },
      };
    } else {
      delete this.spec.multiCrop;
      this.spec.overrides = (this.spec.overrides ?? []).filter((o) => Array.isArray(o.views));
    }
  }

  resample(): void {
    this.seed = (this.seed + 1 + Math.floor(Math.random() * 1_000_000)) % 2 ** 31;
  }

  /** Debounced: call on every change of what the preview depends on; the last request's answer wins. */
  schedulePreview(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runPreview();
    }, PREVIEW_DEBOUNCE_MS);
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private async runPreview(): Promise<void> {
    const spec = this.checked.spec;
    if (this.datasetId === null || !spec) return;
    const no = ++this.requestNo;
    this.previewBusy = true;
    try {
      const out = await api.call('augment.preview', {
        datasetId: this.datasetId,
        pipeline: spec as unknown as Record<string, unknown>,
        k: this.k,
        m: this.m,
        size: this.imageSize,
        seed: this.seed,
      });
      if (no !== this.requestNo) return;
      this.preview = out;
      this.previewError = null;
    } catch (err) {
      if (no === this.requestNo) this.previewError = errorText(err);
    } finally {
      if (no === this.requestNo) this.previewBusy = false;
    }
  }

  async save(name: string): Promise<boolean> {
    const spec = this.checked.spec;
    const trimmed = name.trim();
    if (!spec) {
      this.error = 'fix the fields marked in red before saving';
      return false;
    }
    if (!trimmed) {
      this.error = 'give the pipeline a name';
      return false;
    }
    try {
      const body = { name: trimmed, spec: spec as unknown as Record<string, unknown>, method: this.method };
      const exists = this.saved.some((p) => p.name === trimmed);
      await api.call(exists ? 'pipelines.update' : 'pipelines.create', body);
      this.name = trimmed;
      this.message = `saved “${trimmed}”`;
      this.error = null;
      await this.reloadSaved();
      return true;
    } catch (err) {
      this.error = errorText(err);
      return false;
    }
  }

  loadSaved(name: string): void {
    const p = this.saved.find((s) => s.name === name);
    if (!p) return;
    this.spec = structuredClone(p.spec) as PipelineSpecInput;
    this.method = p.method;
    this.name = p.name;
    this.message = `loaded “${p.name}”`;
  }

  async deleteSaved(name: string): Promise<void> {
    try {
      await api.call('pipelines.delete', { name });
      if (this.name === name) this.name = '';
      this.message = `deleted “${name}”`;
      await this.reloadSaved();
    } catch (err) {
      this.error = errorText(err);
    }
  }

  /** JSON text (a spec file) into the editor; a bad file is refused with the field named and the editor kept. */
  importJson(text: string, fileName: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.error = `${fileName} is not valid JSON: ${errorText(err)}`;
      return;
    }
    const r = PipelineSpec.safeParse(value);
    if (!r.success) {
      this.error = `${fileName}: ${r.error.issues.map((i) => `${issuePath(i.path)}: ${i.message}`).join('; ')}`;
      return;
    }
    this.spec = r.data as PipelineSpecInput;
    this.name = r.data.name ?? '';
    this.message = `imported ${fileName}`;
    this.error = null;
  }

  exportJson(): string {
    return `${JSON.stringify(this.checked.spec ?? $state.snapshot(this.spec), null, 2)}\n`;
  }
}
