import { parseSplitSpec, splitDataset } from '../../catalog/split.js';
import { createServices } from '../../services.js';
import { intFlag, parse, requireString } from '../args.js';
import { Output } from '../output.js';
import type { Command } from '../command.js';

export const splitCommand: Command = {
  name: 'split',
  usage: 'curio split --dataset NAME --into NAME:FRACTION,NAME:FRACTION [--seed S] [--db FILE] [--json]',
  summary: 'Make class-balanced datasets (e.g. train and test) out of one dataset',
  async run(argv) {
    const { values } = parse(argv, { dataset: { type: 'string' }, into: { type: 'string' }, seed: { type: 'string' } });
    const dataset = requireString(values.dataset, 'dataset');
    const parts = parseSplitSpec(requireString(values.into, 'into'));
    const seed = intFlag(values.seed, 'seed', 0);
    const out = new Output(values.json);
    const services = createServices({ dbPath: values.db, mode: 'browser' });
    try {
      const result = splitDataset(services.catalog, dataset, parts, seed);
      out.result({ dataset, seed, ...result }, () =>
        result.parts.map((p) => `${p.name}: ${p.count} images, ${Object.keys(p.perLabel).length} labels`).join('\n'),
      );
      return 0;
    } finally {
      services.close();
    }
  },
};
