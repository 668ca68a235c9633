/** One `curio` subcommand. `run` returns the exit code. */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}
