import type { BalanceResult, DecontaminateResult, RetrieveResult } from '../../../shared/contract/curate-versions.js';
import { DECONTAMINATE_DEFAULTS } from '../../../shared/contract/curate-versions.js';
import { parseBalanceOptions, parseRetrieveOptions, runBalance, runRetrieve } from '../../curate/balance.js';
import { parseDecontaminateOptions, runDecontaminate } from '../../curate/decontaminate.js';
import { checkEncoderSpec, describeEncoder, encoderSpecFromArg } from '../../curate/encoders.js';
import type { EncoderSpec } from '../../../shared/contract/curate.js';
import { CurioError } from '../../common/errors.js';
import type { JobContext } from '../../common/jobs.js';
import { createServices } from '../../services.js';
import { parse, requireString, UsageError } from '../args.js';
import { attachProgress, cancelOnSigint, Output } from '../output.js';
import type { Command } from '../command.js';

const USAGE = [
  'curio curate decontaminate --dataset POOL --against EVAL [--cosine C] [--phash-distance D] [--encoder builtin|RUN|FILE] [--apply NAME] [--db FILE] [--json]',
  '       curio curate balance --dataset NAME [--clusters K] [--per-cluster N] [--keep nearest|random] [--seed S] [--iterations N] [--encoder builtin|RUN|FILE] [--apply NAME] [--db FILE] [--json]',
  '       curio curate retrieve --dataset POOL --seed-dataset SEED --per-image N [--encoder builtin|RUN|FILE] [--apply NAME] [--db FILE] [--json]',
].join('\n');

/** A flag's value as a number, or a usage error naming the flag. */
function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got "${v}"`);
  return n;
}

/** Schema messages name contract fields ("perCluster: …"); the CLI speaks of its flags. */
function asUsage<T>(flags: Record<string, string>, parseOptions: () => T): T {
  try {
    return parseOptions();
  } catch (err) {
    if (err instanceof CurioError && !(err instanceof UsageError)) {
      const m = /^([A-Za-z]+)(\.\d+)?: (.*)$/.exec(err.message);
      throw new UsageError(m ? `--${flags[m[1]!] ?? m[1]}: ${m[3]}` : err.message);
    }
    throw err;
  }
}

async function runJob<T>(
  db: string | undefined,
  encoder: EncoderSpec | undefined,
  work: (s: ReturnType<typeof createServices>, ctx: JobContext) => Promise<T>,
): Promise<T> {
  const services = createServices({ dbPath: db, mode: 'browser' });
  const detach = attachProgress(services.bus);
  try {
    // an unknown run or a missing file fails here, in one line, before any work starts
    checkEncoderSpec(services.catalog, encoder);
    const { jobId, promise } = services.jobs.start('curate', (ctx) => work(services, ctx));
    const stopSigint = cancelOnSigint(() => services.jobs.cancel(jobId));
    return await promise.finally(stopSigint);
  } finally {
    detach();
    services.close();
  }
}

function appliedLine(applied: { name: string; imageCount: number } | null): string {
  return applied ? `applied     "${applied.name}" with ${applied.imageCount} images` : 'applied     no (report only; --apply NAME makes a curated version)';
}

async function decontaminate(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    dataset: { type: 'string' },
    against: { type: 'string' },
    cosine: { type: 'string' },
    'phash-distance': { type: 'string' },
    encoder: { type: 'string' },
    apply: { type: 'string' },
  });
  const options = asUsage({ dataset: 'dataset', against: 'against', cosine: 'cosine', phashDistance: 'phash-distance', encoder: 'encoder', apply: 'apply' }, () =>
    parseDecontaminateOptions({
      dataset: requireString(values.dataset, 'dataset'),
      against: requireString(values.against, 'against'),
      ...(values.cosine !== undefined ? { cosine: num('cosine', values.cosine) } : {}),
      ...(values['phash-distance'] !== undefined ? { phashDistance: num('phash-distance', values['phash-distance']) } : {}),
      ...(values.encoder !== undefined ? { encoder: encoderSpecFromArg(values.encoder) } : {}),
      ...(values.apply !== undefined ? { apply: values.apply } : {}),
    }),
  );
  const out = new Output(values.json);
  const r: DecontaminateResult = await runJob(values.db, options.encoder, (s, ctx) => runDecontaminate(s.catalog, options, ctx));
  out.info(
    [
      `pool        ${r.dataset} (${r.imageCount} images)`,
      `against     ${r.against} (${r.evalCount} images)`,
      `threshold   cosine ≥ ${r.cosine}${r.phashDistance !== null ? `, or phash ≤ ${r.phashDistance}` : ''}`,
      `removed     ${r.removed} (kept ${r.kept})`,
      ...r.contaminated.slice(0, 10).map((c) => `  ${c.similarity.toFixed(3)} ${c.match.padEnd(9)} ${c.path}  ~ ${c.evalPath}`),
      ...(r.contaminated.length > 10 ? [`  … and ${r.contaminated.length - 10} more`] : []),
      ...(r.embeddingFailures ? [`warning     ${r.embeddingFailures} images could not be described`] : []),
      ...(r.encoder ? [`encoder     ${describeEncoder(r.encoder)}`] : []),
      appliedLine(r.applied),
    ].join('\n'),
  );
  if (values.json) out.result({ removed: r.removed, kept: r.kept, imageCount: r.imageCount, evalCount: r.evalCount, cosine: r.cosine, phashDistance: r.phashDistance, applied: r.applied, contaminated: r.contaminated });
  return 0;
}

async function balance(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    dataset: { type: 'string' },
    clusters: { type: 'string' },
    'per-cluster': { type: 'string' },
    keep: { type: 'string' },
    seed: { type: 'string' },
    iterations: { type: 'string' },
    encoder: { type: 'string' },
    apply: { type: 'string' },
  });
  const options = asUsage(
    { dataset: 'dataset', clusters: 'clusters', perCluster: 'per-cluster', keep: 'keep', seed: 'seed', maxIterations: 'iterations', encoder: 'encoder', apply: 'apply' },
    () =>
      parseBalanceOptions({
        dataset: requireString(values.dataset, 'dataset'),
        ...(values.clusters !== undefined ? { clusters: num('clusters', values.clusters) } : {}),
        ...(values['per-cluster'] !== undefined ? { perCluster: num('per-cluster', values['per-cluster']) } : {}),
        ...(values.keep !== undefined ? { keep: values.keep } : {}),
        ...(values.seed !== undefined ? { seed: num('seed', values.seed) } : {}),
        ...(values.iterations !== undefined ? { maxIterations: num('iterations', values.iterations) } : {}),
        ...(values.encoder !== undefined ? { encoder: encoderSpecFromArg(values.encoder) } : {}),
        ...(values.apply !== undefined ? { apply: values.apply } : {}),
      }),
  );
  const out = new Output(values.json);
  const r: BalanceResult = await runJob(values.db, options.encoder, (s, ctx) => runBalance(s.catalog, options, ctx));
  const largest = [...r.clusterSizes].sort((a, b) => b - a).slice(0, 5);
  out.info(
    [
      `dataset     ${r.dataset} (${r.imageCount} images)`,
      `clusters    ${r.clusters} (k-means, seed ${r.seed}, ${r.iterations} iterations); largest ${largest.join(', ')}`,
      `cap         ${r.perCluster} per cluster, keeping the ${r.keep === 'nearest' ? 'nearest to the centroid' : 'random draw'}`,
      `removed     ${r.removed} (kept ${r.kept})`,
      ...(r.embeddingFailures ? [`warning     ${r.embeddingFailures} images could not be described and are not kept`] : []),
      ...(r.encoder ? [`encoder     ${describeEncoder(r.encoder)}`] : []),
      appliedLine(r.applied),
    ].join('\n'),
  );
  if (values.json) out.result({ removed: r.removed, kept: r.kept, imageCount: r.imageCount, clusters: r.clusters, perCluster: r.perCluster, keep: r.keep, seed: r.seed, iterations: r.iterations, clusterSizes: r.clusterSizes, keptSizes: r.keptSizes, applied: r.applied });
  return 0;
}

async function retrieve(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    dataset: { type: 'string' },
    'seed-dataset': { type: 'string' },
    'per-image': { type: 'string' },
    encoder: { type: 'string' },
    apply: { type: 'string' },
  });
  const options = asUsage({ dataset: 'dataset', seedDataset: 'seed-dataset', perImage: 'per-image', encoder: 'encoder', apply: 'apply' }, () =>
    parseRetrieveOptions({
      dataset: requireString(values.dataset, 'dataset'),
      seedDataset: requireString(values['seed-dataset'], 'seed-dataset'),
      perImage: num('per-image', requireString(values['per-image'], 'per-image')),
      ...(values.encoder !== undefined ? { encoder: encoderSpecFromArg(values.encoder) } : {}),
      ...(values.apply !== undefined ? { apply: values.apply } : {}),
    }),
  );
  const out = new Output(values.json);
  const r: RetrieveResult = await runJob(values.db, options.encoder, (s, ctx) => runRetrieve(s.catalog, options, ctx));
  out.info(
    [
      `pool        ${r.dataset} (${r.imageCount} images)`,
      `seeds       ${r.seedDataset} (${r.seedCount} images), ${r.perImage} nearest each`,
      `kept        ${r.kept} (removed ${r.removed})`,
      ...(r.embeddingFailures ? [`warning     ${r.embeddingFailures} images could not be described`] : []),
      ...(r.encoder ? [`encoder     ${describeEncoder(r.encoder)}`] : []),
      appliedLine(r.applied),
    ].join('\n'),
  );
  if (values.json) out.result({ removed: r.removed, kept: r.kept, imageCount: r.imageCount, seedCount: r.seedCount, perImage: r.perImage, applied: r.applied });
  return 0;
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = { decontaminate, balance, retrieve };

export const curateCommand: Command = {
  name: 'curate',
  usage: USAGE,
  summary: `Make curated versions: decontaminate against an eval set (cosine ≥ ${DECONTAMINATE_DEFAULTS.cosine}), balance by k-means clusters, retrieve around a seed set`,
  async run(argv) {
    const [sub, ...rest] = argv;
    const run = sub ? SUBCOMMANDS[sub] : undefined;
    if (!run) throw new UsageError(sub ? `unknown curate step "${sub}" (decontaminate, balance or retrieve)` : 'missing the curate step (decontaminate, balance or retrieve)');
    return run(rest);
  },
};
