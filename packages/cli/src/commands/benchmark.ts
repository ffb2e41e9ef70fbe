import { resolve } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters/registry';
import { NNUNET_AUGMENT } from '@anymc3d/core/augment';
import type { Backbone } from '@anymc3d/core/backbone';
import {
  BENCHMARK_MODES,
  type BenchmarkMode,
  type CellSettings,
  readCells,
  resultsTable,
  runBenchmark,
  writeComparison,
  writeResults,
} from '@anymc3d/core/benchmark';
import { readDataset } from '@anymc3d/core/datasets';
import { THRESHOLD_CRITERIA, type ThresholdCriterion } from '@anymc3d/core/metrics';
import { taskCard } from '@anymc3d/core/task';
import { InputError } from '@anymc3d/core/util';
import type { Argv, CommandModule } from 'yargs';
import { createProgress } from '../progress.js';

interface RunArgs {
  tasks: string;
  data: string[];
  backbones: string;
  modes: string;
  output: string;
  cache?: string;
  size?: number;
  steps: string;
  'lora-steps': string;
  'batch-size': number;
  'lr-head': number;
  'lr-lora': number;
  criterion: string;
  bootstrap: number;
  seed: number;
  augment: boolean;
  threads?: number;
  'weights-root'?: string;
  quiet: boolean;
  progress: boolean;
}

interface CompareArgs {
  input: string;
  output?: string;
  general?: string;
  medical?: string;
  bootstrap: number;
  seed: number;
  quiet: boolean;
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

function stepList(flag: string, s: string): number[] {
  const steps = list(s).map(Number);
  if (steps.length === 0 || steps.some((n) => !(Number.isInteger(n) && n > 0))) {
    throw new InputError(flag, `must be a comma-separated list of whole numbers > 0, got "${s}"`);
  }
  return steps;
}

/** `--data task=path` pairs; a bare path serves a single task. */
function dataPaths(tasks: readonly string[], data: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of data) {
    const at = d.indexOf('=');
    if (at < 0) {
      if (tasks.length !== 1) throw new InputError(d, 'with several tasks, give --data as <task>=<path>');
      out.set(tasks[0]!, d);
    } else out.set(d.slice(0, at), d.slice(at + 1));
  }
  for (const t of tasks) if (!out.has(t)) throw new InputError(t, 'no --data <task>=<path> names where its data is');
  return out;
}

/** The cache shared with the other commands: --cache, else $ANYMC3D_CACHE, else <output>/cache. */
export function cacheRoot(cache: string | undefined, output: string): string {
  return resolve(cache ?? process.env.ANYMC3D_CACHE ?? resolve(output, 'cache'));
}

const runCommand: CommandModule<object, RunArgs> = {
  command: 'run',
  describe: 'Train and score every task × backbone × mode (probe, attn, lora); resumable',
  builder: (y) =>
    y
      .option('tasks', { type: 'string', demandOption: true, describe: 'Task card ids, comma-separated' })
      .option('data', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'Where each task’s data is: <task>=<path> (a bare path for a single task)',
      })
      .option('backbones', {
        type: 'string',
        demandOption: true,
        describe: 'Backbone names or folders, comma-separated',
      })
      .option('modes', { type: 'string', default: 'probe,attn,lora', describe: `Of ${BENCHMARK_MODES.join(', ')}` })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'Results folder' })
      .option('cache', {
        type: 'string',
        describe: 'Feature-cache folder (default $ANYMC3D_CACHE, else <output>/cache)',
      })
      .option('size', { type: 'number', describe: 'In-plane input size in pixels (default: the task card’s)' })
      .option('steps', { type: 'string', default: '100,200,400', describe: 'Candidate steps for probe and attn' })
      .option('lora-steps', { type: 'string', default: '50,100,200', describe: 'Candidate steps for lora' })
      .option('batch-size', { type: 'number', default: 16, describe: 'Cases per optimiser step' })
      .option('lr-head', { type: 'number', default: 1e-3, describe: 'Learning rate of the head and query' })
      .option('lr-lora', { type: 'number', default: 1e-4, describe: 'Learning rate of the LoRA factors' })
      .option('criterion', {
        type: 'string',
        default: 'youden',
        describe: `Operating point chosen on val (${THRESHOLD_CRITERIA.join(', ')})`,
      })
      .option('bootstrap', { type: 'number', default: 1000, describe: 'Bootstrap resamples for 95% intervals' })
      .option('seed', { type: 'number', default: 0, describe: 'Seed of training, augmentation and bootstrap' })
      .option('augment', {
        type: 'boolean',
        default: true,
        describe:
          'lora cells: nnU-Net-style 3D augmentation of every training use of a case, as `anymc3d train` does (seeded, part of the cell key); --no-augment to switch it off',
      })
      .option('threads', { type: 'number', describe: 'ONNX Runtime threads (default: all cores)' })
      .option('weights-root', {
        type: 'string',
        describe: 'Folder holding <name>/ weight folders',
      }) as unknown as Argv<RunArgs>,
  handler: async (args) => {
    const tasks = list(args.tasks);
    const modes = list(args.modes);
    for (const m of modes) {
      if (!(BENCHMARK_MODES as readonly string[]).includes(m)) {
        throw new InputError('--modes', `unknown mode "${m}" (known: ${BENCHMARK_MODES.join(', ')})`);
      }
    }
    if (!(THRESHOLD_CRITERIA as readonly string[]).includes(args.criterion)) {
      throw new InputError('--criterion', `must be one of ${THRESHOLD_CRITERIA.join(', ')}`);
    }
    if (args.size !== undefined && !(Number.isInteger(args.size) && args.size > 0)) {
      throw new InputError('--size', `must be a whole number of pixels, got ${args.size}`);
    }
    const paths = dataPaths(tasks, args.data);
    const settings: CellSettings = {
      steps: stepList('--steps', args.steps),
      loraSteps: stepList('--lora-steps', args['lora-steps']),
      optim: {
        batchSize: args['batch-size'],
        lrHead: args['lr-head'],
        lrLora: args['lr-lora'],
        seed: args.seed,
      },
      criterion: args.criterion as ThresholdCriterion,
      bootstrap: { iterations: args.bootstrap, seed: args.seed },
      ...(args.augment ? { augment: { seed: args.seed, config: NNUNET_AUGMENT } } : {}),
      ...(args.threads ? { threads: args.threads } : {}),
    };
    const planned = [];
    for (const id of tasks) {
      const card = await taskCard(id);
      planned.push({ card, manifest: await readDataset(card, { path: resolve(paths.get(id)!) }) });
    }
    const backbones: Backbone[] = [];
    for (const name of list(args.backbones)) {
      backbones.push(await resolveBackbone(name, args['weights-root'] ? { weightsRoot: args['weights-root'] } : {}));
    }
    const out = resolve(args.output);
    const progress = createProgress({ enabled: args.progress, quiet: args.quiet });
    const started = Date.now();
    const run = await runBenchmark({
      out,
      cacheRoot: cacheRoot(args.cache, out),
      tasks: planned,
      backbones,
      modes: modes as BenchmarkMode[],
      ...(args.size ? { size: [args.size, args.size] as [number, number] } : {}),
      settings,
      ...(args.threads ? { embedder: { threads: args.threads } } : {}),
      onEvent: progress.report,
    });
    progress.stop();
    await writeResults(out, run.cells, { settings, size: args.size ?? null });
    if (!args.quiet) {
      process.stdout.write(`${resultsTable(run.cells)}\n\n`);
      process.stdout.write(
        `${run.trained} cell(s) trained, ${run.cells.length - run.trained} read back; ` +
          `${run.extracted} token set(s) extracted; ${((Date.now() - started) / 1000).toFixed(0)} s. ` +
          `Results: ${out}/results.md\n`,
      );
    }
  },
};

const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare',
  describe:
    'Paired bootstrap comparisons (modes, general vs medical backbone): Markdown report and plots (PNG, SVG, Vega-Lite spec)',
  builder: (y) =>
    y
      .option('input', { alias: 'i', type: 'string', demandOption: true, describe: 'A `benchmark run` results folder' })
      .option('output', { alias: 'o', type: 'string', describe: 'Report folder (default: the input folder)' })
      .option('general', { type: 'string', describe: 'The general-domain backbone (name as in the results)' })
      .option('medical', { type: 'string', describe: 'The medical backbone (name as in the results)' })
      .option('bootstrap', { type: 'number', default: 2000, describe: 'Paired bootstrap resamples' })
      .option('seed', {
        type: 'number',
        default: 0,
        describe: 'Seed of the bootstrap',
      }) as unknown as Argv<CompareArgs>,
  handler: async (args) => {
    if ((args.general === undefined) !== (args.medical === undefined)) {
      throw new InputError('--general/--medical', 'give both backbones to compare them, or neither');
    }
    if (!(Number.isInteger(args.bootstrap) && args.bootstrap > 0)) {
      throw new InputError('--bootstrap', `must be a whole number > 0, got ${args.bootstrap}`);
    }
    const cells = await readCells(resolve(args.input));
    const names = new Set(cells.map((c) => c.backbone.name));
    for (const b of [args.general, args.medical]) {
      if (b !== undefined && !names.has(b)) {
        throw new InputError(b, `no results for this backbone in ${args.input} (have: ${[...names].join(', ')})`);
      }
    }
    const dir = resolve(args.output ?? args.input);
    const comparisons = await writeComparison(dir, cells, {
      bootstrap: { iterations: args.bootstrap, seed: args.seed },
      ...(args.general ? { general: args.general } : {}),
      ...(args.medical ? { medical: args.medical } : {}),
    });
    if (!args.quiet) {
      process.stdout.write(
        `${comparisons.length} comparison(s); report: ${dir}/compare.md, plots: ${dir}/auroc.png, ${dir}/differences.png (Vega-Lite specs beside them)\n`,
      );
    }
  },
};

export const benchmarkCommand: CommandModule = {
  command: 'benchmark <command>',
  describe: 'The benchmark suite: run task × backbone × mode cells, compare arms',
  builder: (y) =>
    y
      .command(runCommand as never)
      .command(compareCommand as never)
      .demandCommand(1),
  handler: () => {},
};
