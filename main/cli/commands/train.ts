import fs from 'node:fs';
import { BackboneName, BackendChoice, MAX_LOCAL_CROPS, Method, type RunConfigInput } from '../../../shared/contract/train.js';
import { CurioError } from '../../common/errors.js';
import { createServices } from '../../services.js';
import type { RunOutcome } from '../../train/runs/runner.js';
import { intFlag, numberFlag, parse, UsageError } from '../args.js';
import { cancelOnSigint, formatDuration, Output } from '../output.js';
import type { Command } from '../command.js';

export const trainCommand: Command = {
  name: 'train',
  usage:
    'curio train --dataset NAME --method simclr|mocov2|mocov3|byol|dino --backbone small|resnet18|resnet50|vit-tiny|vit-small ' +
    '[--epochs N | --minutes M] [--batch B] [--image-size PX] [--pipeline FILE|PRESET] [--backend X] [--lr BASE_LR_PER_256] [--seed S] ' +
    '[--local-crops N (dino)] [--checkpoint-minutes M] [--db FILE] [--json]\n       curio train --resume ID [--db FILE] [--json]',
  summary: 'Pretrain an encoder with a self-supervised method (in a worker thread), or resume a run',
  async run(argv) {
    const { values } = parse(argv, {
      dataset: { type: 'string' },
      method: { type: 'string' },
      backbone: { type: 'string' },
      epochs: { type: 'string' },
      minutes: { type: 'string' },
      batch: { type: 'string' },
      'image-size': { type: 'string' },
      pipeline: { type: 'string' },
      backend: { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      'checkpoint-minutes': { type: 'string' },
      'monitor-size': { type: 'string' },
      'patch-size': { type: 'string' },
      'queue-size': { type: 'string' },
      'local-crops': { type: 'string' },
      resume: { type: 'string' },
    });
    const out = new Output(values.json);
    const services = createServices({ dbPath: values.db, mode: 'browser' });
    try {
      let runId: number;
      let done: Promise<RunOutcome>;
      if (values.resume !== undefined) {
        runId = intFlag(values.resume, 'resume', undefined, 1);
        done = services.runs.resume(runId).done;
        out.info(`resuming run ${runId}`);
      } else {
        const config = configFromFlags(values);
        const started = services.runs.start(config);
        runId = started.runId;
        done = started.done;
        out.info(`run ${runId}: ${config.method} on ${config.dataset} with ${config.backbone}`);
      }
      const detach = attachRunProgress(services, runId);
      const stopSigint = cancelOnSigint(() => services.runs.stop(runId));
      const outcome = await done.finally(() => {
        stopSigint();
        detach();
      });
      if (outcome.status === 'failed') throw new CurioError('failed', `run ${runId} failed: ${outcome.error}`);
      const run = services.runs.store.get(runId);
      const s = outcome.summary!;
      const result = {
        runId,
        status: outcome.status,
        loss: s.loss,
        steps: s.steps,
        epochs: s.epochs,
        knnTop1: s.knnTop1,
        embeddingStd: s.embeddingStd,
        imagesPerSecond: Number(s.imagesPerSecond.toFixed(3)),
        seconds: Number(s.seconds.toFixed(2)),
        backend: s.backend,
        backendReason: run.backendReason,
        checkpoint: s.checkpoint,
      };
      out.result(result, () =>
        [
          `run ${runId} ${outcome.status} after ${s.steps} steps (${s.epochs} epochs) in ${formatDuration(s.seconds)} on ${s.backend}`,
          `  loss ${s.loss?.toFixed(4) ?? 'n/a'}, ${s.imagesPerSecond.toFixed(1)} img/s`,
          `  kNN monitor ${s.knnTop1 === null ? 'n/a (no labels)' : `${(100 * s.knnTop1).toFixed(1)}%`}, embedding std ${s.embeddingStd?.toFixed(4) ?? 'n/a'}`,
          `  checkpoint ${s.checkpoint}`,
        ].join('\n'),
      );
      return 0;
    } finally {
      await services.runs.stopAll();
      services.close();
    }
  },
};

/** The run config the flags describe; every bad flag is a one-line UsageError naming it. */
export function configFromFlags(values: Record<string, string | boolean | undefined>): RunConfigInput {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const dataset = str('dataset');
  if (!dataset) throw new UsageError('missing --dataset (or --resume ID)');
  const method = Method.safeParse(str('method'));
  if (!method.success) throw new UsageError(`--method must be one of ${Method.options.join(', ')}`);
  const backbone = BackboneName.safeParse(str('backbone'));
  if (!backbone.success) throw new UsageError(`--backbone must be one of ${BackboneName.options.join(', ')}`);
  const backend = BackendChoice.safeParse(str('backend') ?? 'auto');
  if (!backend.success) throw new UsageError(`--backend must be one of ${BackendChoice.options.join(', ')}`);
  if (str('epochs') !== undefined && str('minutes') !== undefined) throw new UsageError('give --epochs or --minutes, not both');
  const config: RunConfigInput = { dataset, method: method.data, backbone: backbone.data, backend: backend.data };
  if (str('epochs') !== undefined) config.epochs = intFlag(str('epochs'), 'epochs', undefined, 1);
  if (str('minutes') !== undefined) {
    config.minutes = numberFlag(str('minutes'), 'minutes');
    if (!(config.minutes > 0)) throw new UsageError('--minutes must be > 0');
  }
  if (str('batch') !== undefined) config.batchSize = intFlag(str('batch'), 'batch', undefined, 2);
  if (str('image-size') !== undefined) config.imageSize = intFlag(str('image-size'), 'image-size', undefined, 8);
  if (str('lr') !== undefined) config.lr = numberFlag(str('lr'), 'lr');
  if (str('seed') !== undefined) config.seed = intFlag(str('seed'), 'seed', undefined, 0);
  if (str('checkpoint-minutes') !== undefined) config.checkpointMinutes = numberFlag(str('checkpoint-minutes'), 'checkpoint-minutes');
  if (str('monitor-size') !== undefined) config.monitorSize = intFlag(str('monitor-size'), 'monitor-size', undefined, 0);
  if (str('patch-size') !== undefined) config.patchSize = intFlag(str('patch-size'), 'patch-size', undefined, 2);
  if (str('queue-size') !== undefined) config.queueSize = intFlag(str('queue-size'), 'queue-size', undefined, 16);
  if (str('local-crops') !== undefined) config.localCrops = localCropsFlag(str('local-crops')!, method.data);
  const pipeline = str('pipeline');
  if (pipeline !== undefined) {
    if (fs.existsSync(pipeline)) {
      try {
        config.pipeline = JSON.parse(fs.readFileSync(pipeline, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(`--pipeline ${pipeline} is not valid JSON: ${(err as Error).message}`);
      }
    } else {
      config.pipeline = pipeline;
    }
  }
  return config;
}

/** DINO's local-crop count (0 keeps only the 2 global crops); the other methods train on exactly 2 views. */
function localCropsFlag(text: string, method: Method): number {
  if (method !== 'dino') {
    throw new UsageError(`--local-crops is only for --method dino (its multi-crop); ${method} trains on exactly 2 views`);
  }
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0 || n > MAX_LOCAL_CROPS) {
    throw new UsageError(`--local-crops must be an integer from 0 to ${MAX_LOCAL_CROPS}, got "${text}"`);
  }
  return n;
}

/** Step and epoch lines on stderr, at most one step line every two seconds. */
function attachRunProgress(services: ReturnType<typeof createServices>, runId: number): () => void {
  let last = 0;
  return services.bus.subscribe((name, payload) => {
    if (name === 'onDidRunMetrics') {
      const m = payload as import('../../../shared/contract/train.js').RunMetrics;
      if (m.runId !== runId) return;
      if (m.kind === 'epoch') {
        const knn = m.knnTop1 === null ? 'n/a' : `${(100 * m.knnTop1).toFixed(1)}%`;
        process.stderr.write(`epoch ${m.epoch} (step ${m.step}): kNN ${knn}, embedding std ${m.embeddingStd.toFixed(4)}\n`);
      } else if (Date.now() - last > 2000) {
        last = Date.now();
        process.stderr.write(
          `step ${m.step} epoch ${m.epoch}: loss ${m.loss.toFixed(4)}, lr ${m.lr.toExponential(2)}, ${m.imagesPerSecond.toFixed(1)} img/s, ${m.numTensors} tensors\n`,
        );
      }
    } else if (name === 'onDidRunStatus') {
      const s = payload as { runId: number; line?: string; status: string };
      if (s.runId === runId && s.line) process.stderr.write(`${s.line}\n`);
    }
  });
}
