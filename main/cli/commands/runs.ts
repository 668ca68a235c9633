import { createServices } from '../../services.js';
import { intFlag, parse, requireString, UsageError } from '../args.js';
import { Output } from '../output.js';
import type { Command } from '../command.js';

export const runsCommand: Command = {
  name: 'runs',
  usage: 'curio runs [--db FILE] [--json]',
  summary: 'List pretraining runs with their status, progress and last loss',
  async run(argv) {
    const { values } = parse(argv, {});
    const out = new Output(values.json);
    const services = createServices({ dbPath: values.db, mode: 'browser' });
    try {
      const runs = services.runs.store.list();
      out.result(runs, () =>
        runs.length === 0
          ? 'no runs yet: start one with curio train'
          : runs
              .map((r) => `${String(r.id).padStart(4)}  ${r.status.padEnd(11)} ${r.name.padEnd(18)} step ${r.step}, epoch ${r.epoch}, loss ${r.loss?.toFixed(4) ?? 'n/a'}  ${r.backend ?? ''}`)
              .join('\n'),
      );
      return 0;
    } finally {
      services.close();
    }
  },
};

export const exportEncoderCommand: Command = {
  name: 'export-encoder',
  usage: 'curio export-encoder --run ID --format tfjs|onnx --out DIR [--db FILE] [--json]',
  summary: 'Write a run\'s trained encoder as files for curation, evaluation or other tools',
  async run(argv) {
    const { values } = parse(argv, { run: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } });
    const runId = intFlag(values.run, 'run', undefined, 1);
    const format = requireString(values.format, 'format');
    if (format !== 'tfjs' && format !== 'onnx') throw new UsageError('--format must be tfjs or onnx');
    const dir = requireString(values.out, 'out');
    const out = new Output(values.json);
    const services = createServices({ dbPath: values.db, mode: 'browser' });
    try {
      const { exportEncoder } = await import('../../train/runs/export.js');
      const files = await exportEncoder(services.runs, runId, format, dir);
      out.result({ runId, format, files }, () => files.join('\n'));
      return 0;
    } finally {
      services.close();
    }
  },
};
