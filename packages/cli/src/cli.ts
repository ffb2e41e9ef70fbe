import { isInputError } from '@anymc3d/core';
import type { Argv } from 'yargs';
import yargs from 'yargs';
import { backbonesCommand } from './commands/backbones.js';
import { benchmarkCommand } from './commands/benchmark.js';
import { cacheCommand } from './commands/cache.js';
import { demoCommand } from './commands/demo.js';
import { envCommand } from './commands/env.js';
import { evaluateCommand } from './commands/evaluate.js';
import { featuresCommand } from './commands/features.js';
import { heatmapCommand } from './commands/heatmap.js';
import { inspectCommand } from './commands/inspect.js';
import { predictCommand } from './commands/predict.js';
import { trainCommand } from './commands/train.js';
import { workerCommand } from './commands/worker.js';
import { CLI_VERSION } from './version.js';

/** The commands, in the order `--help` lists them. Each lives in its own file under commands/. */
const commands = [
  demoCommand,
  featuresCommand,
  trainCommand,
  predictCommand,
  heatmapCommand,
  inspectCommand,
  backbonesCommand,
  evaluateCommand,
  benchmarkCommand,
  workerCommand,
  cacheCommand,
  envCommand,
];

export interface GlobalOptions {
  quiet: boolean;
  verbose: boolean;
  progress: boolean;
}

/** Builds the yargs parser; separate from bin.ts so tests can drive it without a process. */
export function buildCli(argv: string[]): Argv<GlobalOptions> {
  let cli = yargs(argv)
    .scriptName('anymc3d')
    .usage('$0 <command> [options]\n\nTurn one frozen 2D foundation model into 3D medical image classifiers.')
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only results and errors' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Print details and stack traces' })
    .option('progress', {
      type: 'boolean',
      default: true,
      describe: 'Show progress (a bar on a TTY, plain lines otherwise); --no-progress turns it off',
    })
    .version(CLI_VERSION)
    .alias('help', 'h')
    .strict()
    .demandCommand(1, 'Name a command; `anymc3d --help` lists them.')
    .wrap(Math.min(110, process.stdout.columns ?? 100));
  for (const command of commands) cli = cli.command(command as never);
  return cli as unknown as Argv<GlobalOptions>;
}

/** Runs the CLI and returns the exit code; bad input is one clear line on stderr, not a stack. */
export async function runCli(argv: string[]): Promise<number> {
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  try {
    await buildCli(argv)
      .fail((message, error) => {
        throw error ?? new UsageError(message);
      })
      .parseAsync();
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`anymc3d: ${error.message}\n`);
      return 2;
    }
    if (isInputError(error)) {
      process.stderr.write(`anymc3d: ${error.message}\n`);
      if (verbose && error.stack) process.stderr.write(`${error.stack}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`anymc3d: ${message}\n`);
    if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}

class UsageError extends Error {}
