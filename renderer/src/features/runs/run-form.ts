/**
 * The new-run form's fields as the user types them (text), and their translation into a RunConfig checked by the
 * contract's own schema, so the form rejects exactly what main would reject and names the field at fault.
 */
import { PRESET_METHODS } from '../../../../shared/contract/augment.js';
import { BackboneName, BackendChoice, Method, RunConfig, type RunConfigInput } from '../../../../shared/contract/train.js';

export const METHODS = Method.options;
export const BACKBONES = BackboneName.options;
export const BACKENDS = BackendChoice.options;
export const PIPELINE_PRESETS = PRESET_METHODS;

export const METHOD_LABELS: Record<Method, string> = {
  simclr: 'SimCLR',
  mocov2: 'MoCo v2',
  mocov3: 'MoCo v3',
  byol: 'BYOL',
  dino: 'DINO',
};

export const BACKBONE_LABELS: Record<BackboneName, string> = {
  small: 'small CNN (≈1M params, fastest)',
  resnet18: 'ResNet-18',
  resnet50: 'ResNet-50',
  'vit-tiny': 'ViT-Tiny',
  'vit-small': 'ViT-Small',
};

export const BACKEND_LABELS: Record<BackendChoice, string> = {
  auto: 'auto (fastest that can train)',
  webgpu: 'WebGPU (Dawn)',
  tensorflow: 'TensorFlow (tfjs-node)',
  native: 'native CPU (OpenBLAS)',
  wasm: 'wasm',
  'webgpu-gl': 'WebGPU on OpenGL ES',
  cpu: 'cpu (pure JS)',
};

/**
 * The backbone each method is usually paired with. MoCo v3 and DINO were designed around ViTs; ViT-Tiny is the
 * smallest that keeps their recipe. The CNN methods get the small CNN, which trains in minutes on a CPU.
 */
export const METHOD_PRESETS: Record<Method, { backbone: BackboneName; note: string }> = {
  simclr: { backbone: 'small', note: 'NT-Xent over 2N views, LARS; larger batches help.' },
  mocov2: { backbone: 'small', note: 'Key queue with a momentum encoder; works at small batch sizes.' },
  mocov3: { backbone: 'vit-tiny', note: 'Symmetric loss with a predictor, no queue; usually a ViT.' },
  byol: { backbone: 'small', note: 'No negatives: predictor and EMA target.' },
  dino: { backbone: 'vit-tiny', note: 'Self-distillation with multi-crop; usually a ViT.' },
};

export interface RunFormFields {
  dataset: string;
  method: Method;
  backbone: BackboneName;
  length: 'epochs' | 'minutes';
  epochs: string;
  minutes: string;
  batchSize: string;
  /** blank: the dataset's typical image size */
  imageSize: string;
  /** blank: the method's own preset */
  pipeline: string;
  backend: BackendChoice;
  /** blank: the method's default */
  lr: string;
  seed: string;
  /** DINO only: local crops beside its 2 global crops; blank: the pipeline's own count (the DINO preset has 8) */
  localCrops: string;
}

export type RunFormField = keyof RunFormFields;
/** Field errors by field; `form` holds errors that belong to no single field. */
export type RunFormErrors = Partial<Record<RunFormField | 'form', string>>;

export function defaultFields(dataset = ''): RunFormFields {
  return {
    dataset,
    method: 'simclr',
    backbone: METHOD_PRESETS.simclr.backbone,
    length: 'epochs',
    epochs: '10',
    minutes: '15',
    batchSize: '256',
    imageSize: '',
    pipeline: '',
    backend: 'auto',
    lr: '',
    seed: '0',
    localCrops: '',
  };
}

/** A method change brings its usual backbone along; the user can still pick another afterwards. */
export function withMethod(fields: RunFormFields, method: Method): RunFormFields {
  return { ...fields, method, backbone: METHOD_PRESETS[method].backbone };
}

const NUMBER_FIELDS = ['epochs', 'minutes', 'batchSize', 'imageSize', 'lr', 'seed', 'localCrops'] as const;
type NumberField = (typeof NUMBER_FIELDS)[number];

const FIELD_OF_CONFIG_KEY: Record<string, RunFormField> = {
  dataset: 'dataset',
  method: 'method',
  backbone: 'backbone',
  epochs: 'epochs',
  minutes: 'minutes',
  batchSize: 'batchSize',
  imageSize: 'imageSize',
  pipeline: 'pipeline',
  backend: 'backend',
  lr: 'lr',
  seed: 'seed',
  localCrops: 'localCrops',
};

/** Whether the method takes local crops (the form shows the field for it alone). */
export function takesLocalCrops(method: Method): boolean {
  return method === 'dino';
}

/**
 * The config the fields describe, or the errors that keep it from being one. Blank optional fields are left out
 * so main fills them in (image size from the data, LR from the method, pipeline from the method's preset);
 * only the active one of epochs and minutes is sent, and local crops only for DINO (the field is hidden otherwise).
 */
export function buildRunConfig(fields: RunFormFields): { config: RunConfigInput | null; errors: RunFormErrors } {
  const errors: RunFormErrors = {};
  const numbers: Partial<Record<NumberField, number>> = {};
  for (const key of NUMBER_FIELDS) {
    if (key === 'epochs' && fields.length !== 'epochs') continue;
    if (key === 'minutes' && fields.length !== 'minutes') continue;
    if (key === 'localCrops' && !takesLocalCrops(fields.method)) continue;
    const text = fields[key].trim();
    if (text === '') continue;
    const value = Number(text);
    if (!Number.isFinite(value)) errors[key] = `“${text}” is not a number`;
    else numbers[key] = value;
  }
  if (fields.dataset.trim() === '') errors.dataset = 'pick a dataset';

  const candidate: Record<string, unknown> = {
    dataset: fields.dataset,
    method: fields.method,
    backbone: fields.backbone,
    backend: fields.backend,
    ...numbers,
  };
  if (fields.pipeline !== '') candidate.pipeline = fields.pipeline;

  const parsed = RunConfig.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path[0];
      const field = typeof key === 'string' ? FIELD_OF_CONFIG_KEY[key] : undefined;
      const slot = field ?? 'form';
      const message = readableIssue(issue);
      errors[slot] ??= field === undefined && typeof key === 'string' ? `${key}: ${message}` : message;
    }
  }
  if (Object.keys(errors).length > 0) return { config: null, errors };
  return { config: candidate as RunConfigInput, errors };
}

/** The schema's limits in words a form shows under a field ("at least 2"), falling back to zod's own message. */
export function readableIssue(zodIssue: { code: string; message: string }): string {
  const issue = zodIssue as { code: string; message: string } & Record<string, unknown>;
  const { code } = issue;
  if (code === 'too_small' && typeof issue.minimum === 'number') {
    return issue.inclusive === false ? `must be more than ${issue.minimum}` : `must be at least ${issue.minimum}`;
  }
  if (code === 'too_big' && typeof issue.maximum === 'number') {
    return issue.inclusive === false ? `must be less than ${issue.maximum}` : `must be at most ${issue.maximum}`;
  }
  if (code === 'invalid_type' && issue.expected === 'int') return 'must be a whole number';
  return issue.message;
}
