import { DEDUP_DEFAULTS, type DedupResult } from '../../../shared/contract/curate.js';
import { parseDedupOptions } from '../../curate/dedup.js';
import { runDedup } from '../../curate/dedup.js';
import { checkEncoderSpec, describeEncoder, encoderSpecFromArg } from '../../curate/encoders.js';
import { CurioError } from '../../common/errors.js';
import { createServices } from '../../services.js';
import { parse, requireString, UsageError } from '../args.js';
import { attachProgress, cancelOnSigint, Output } from '../output.js';
import type { Command } from '../command.js';

export const dedupCommand: Command = {
  name: 'dedup',
  usage:
    'curio dedup --dataset NAME [--strategy exact,phash,embedding] [--phash-distance D] [--cosine C] [--k K] ' +
    '[--encoder builtin|RUN|FILE] [--keep resolution|size|first] [--apply NAME] [--db FILE] [--json]',
  summary: `Find near-duplicate groups (default: ${DEDUP_DEFAULTS.strategies.join('+')}, phash ≤ ${DEDUP_DEFAULTS.phashDistance}, cosine ≥ ${DEDUP_DEFAULTS.cosine}); --apply NAME makes a curated version without them`,
  async run(argv) {
    const { values } = parse(argv, {
      dataset: { type: 'string' },
      strategy: { type: 'string' },
      'phash-distance': { type: 'string' },
      cosine: { type: 'string' },
      k: { type: 'string' },
      keep: { type: 'string' },
      encoder: { type: 'string' },
      apply: { type: 'string' },
    });
    const num = (flag: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got "${v}"`);
      return n;
    };
    let options;
    try {
      options = parseDedupOptions({
        dataset: requireString(values.dataset, 'dataset'),
        ...(values.strategy !== undefined ? { strategies: values.strategy.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
        ...(values['phash-distance'] !== undefined ? { phashDistance: num('phash-distance', values['phash-distance']) } : {}),
        ...(values.cosine !== undefined ? { cosine: num('cosine', values.cosine) } : {}),
        ...(values.k !== undefined ? { k: num('k', values.k) } : {}),
        ...(values.keep !== undefined ? { keep: values.keep } : {}),
        ...(values.encoder !== undefined ? { encoder: encoderSpecFromArg(values.encoder) } : {}),
        ...(values.apply !== undefined ? { apply: values.apply } : {}),
      });
    } catch (err) {
      if (err instanceof CurioError && !(err instanceof UsageError)) throw new UsageError(flagName(err.message));
      throw err;
    }
    const out = new Output(values.json);
    const services = createServices({ dbPath: values.db, mode: 'browser' });
    const detach = attachProgress(services.bus);
    try {
      // an unknown run or a missing file fails here, in one line, before any work starts
      checkEncoderSpec(services.catalog, options.encoder);
      const { jobId, promise } = services.jobs.start('dedup', (ctx) => runDedup(services.catalog, options, ctx));
      const stopSigint = cancelOnSigint(() => services.jobs.cancel(jobId));
      const result: DedupResult = await promise.finally(stopSigint);
      detach();
      out.info(renderSummary(result));
      // The last line is the groups as JSON, with or without --json.
      process.stdout.write(
        `${JSON.stringify(result.groups.map((g) => ({ keep: g.keep, duplicates: g.duplicates.map((d) => ({ path: d.path, similarity: d.similarity })) })))}\n`,
      );
      return 0;
    } finally {
      detach();
      services.close();
    }
  },
};

/** Speaks of the CLI's flags rather than the contract's field names. */
function flagName(message: string): string {
  return message
    .replace(/^strategies(\.\d+)?:/, '--strategy:')
    .replace(/^phashDistance:/, '--phash-distance:')
    .replace(/^cosine:/, '--cosine:')
    .replace(/^k:/, '--k:')
    .replace(/^keep:/, '--keep:')
    .replace(/^encoder:/, '--encoder:')
    .replace(/^apply:/, '--apply:')
    .replace(/^dataset:/, '--dataset:');
}

function renderSummary(r: DedupResult): string {
  const lines = [
    `dataset     ${r.dataset} (${r.imageCount} images)`,
    `strategies  ${r.strategies.join('+')} (phash ≤ ${r.phashDistance}, cosine ≥ ${r.cosine}, k ${r.k}, keep ${r.keep})`,
    `edges       ${Object.entries(r.edges).map(([s, c]) => `${s} ${c}`).join(', ')}`,
    `groups      ${r.groups.length}, ${r.removed} images would be removed`,
  ];
  if (r.encoder) lines.push(`encoder     ${describeEncoder(r.encoder)}`);
  if (r.embeddingFailures) lines.push(`warning     ${r.embeddingFailures} images could not be described (exact and phash only)`);
  lines.push(r.applied ? `applied     "${r.applied.name}" with ${r.applied.imageCount} images` : 'applied     no (report only; --apply NAME makes a curated version)');
  lines.push(`seconds     ${r.seconds.toFixed(1)}`);
  return lines.join('\n');
}
