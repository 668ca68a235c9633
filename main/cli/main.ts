import { CurioError } from '../common/errors.js';
import { UsageError } from './args.js';
import type { Command } from './command.js';
import { augmentCommand } from './commands/augment.js';
import { curateCommand } from './commands/curate.js';
import { dedupCommand } from './commands/dedup.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { exportEncoderCommand, runsCommand } from './commands/runs.js';
import { serveCommand } from './commands/serve.js';
import { splitCommand } from './commands/split.js';
import { trainCommand } from './commands/train.js';

/** Every `curio` subcommand; their names and flags are a public interface that scripts depend on. */
export const COMMANDS: Command[] = [
  importCommand,
  splitCommand,
  dedupCommand,
  curateCommand,
  exportCommand,
  trainCommand,
  runsCommand,
  exportEncoderCommand,
  evalCommand,
  augmentCommand,
  serveCommand,
  demoCommand,
];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: curio <command> [options]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --db FILE (default: the app\'s catalog in your user data folder) and --json',
    '(progress on stderr, the result as one JSON line, last on stdout). Run curio <command> --help for its flags.',
  ].join('\n');
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    const { appVersion } = await import('../services.js');
    process.stdout.write(`${appVersion()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`curio: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: ${command.usage}\n${command.summary}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`curio ${name}: error: ${message.split('\n')[0]}\n`);
    if (err instanceof UsageError) process.stderr.write(`usage: ${command.usage}\n`);
    if (!(err instanceof CurioError) && process.env.CURIO_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

// Run when executed directly (bin/curio.js imports this module and calls runCli itself).
