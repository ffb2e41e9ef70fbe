import type { BootstrapOptions, Interval } from '../metrics/bootstrap.js';
import { percentileInterval } from '../metrics/bootstrap.js';
import { Random } from '../util/random.js';
import { type PairedDifference, pairedAurocDifference, pairedSamples } from './paired.js';
import type { BenchmarkMode, CellResult, DoneCell } from './results.js';

type Done = CellResult & DoneCell;

/** One comparison: arm A minus arm B, per task and as the mean over the tasks both arms ran. */
export interface Comparison {
  /** e.g. "lora − probe (mobilenet_v1_224)" */
  title: string;
  a: string;
  b: string;
  perTask: ({ task: string } & PairedDifference)[];
  /** Mean over tasks of the AUROC differences; its interval resamples every task's cases at once. */
  mean: { tasks: number; difference: number | null; interval: Interval | null; p: number | null } | null;
}

export interface CompareOptions {
  bootstrap: BootstrapOptions;
  /** The general-domain and the medical backbone to set side by side (names), if both ran. */
  general?: string;
  medical?: string;
}

const isDone = (c: CellResult): c is Done => c.status === 'done';

function compareArms(
  cells: readonly CellResult[],
  title: string,
  a: { backbone: string; mode: BenchmarkMode },
  b: { backbone: string; mode: BenchmarkMode },
  options: BootstrapOptions,
): Comparison | null {
  const find = (arm: typeof a, task: string) =>
    cells.find((c) => isDone(c) && c.task === task && c.backbone.name === arm.backbone && c.mode === arm.mode) as
      | Done
      | undefined;
  const tasks = [...new Set(cells.map((c) => c.task))];
  const perTask: Comparison['perTask'] = [];
  const samples: (number | null)[][] = [];
  for (const task of tasks) {
    const x = find(a, task);
    const y = find(b, task);
    if (!x || !y) continue;
    // Each task its own resample stream, so the tasks' resamples are independent in the mean.
    const seeded = { ...options, seed: Math.floor(Random.fromString(options.seed, task).next() * 2 ** 31) };
    perTask.push({ task, ...pairedAurocDifference(x.predictions, y.predictions, seeded) });
    samples.push(pairedSamples(x.predictions, y.predictions, seeded));
  }
  if (perTask.length === 0) return null;
  let mean: Comparison['mean'] = null;
  const defined = perTask.filter((t) => t.difference !== null);
  if (defined.length === perTask.length) {
    // Resample b of the mean: the mean of every task's resample b (tasks are independent data).
    const means: (number | null)[] = samples[0]!.map((_, r) => {
      let sum = 0;
      for (const s of samples) {
        if (s[r] === null) return null;
        sum += s[r]!;
      }
      return sum / samples.length;
    });
    const ok = means.filter((m): m is number => m !== null);
    const below = ok.filter((m) => m <= 0).length;
    const above = ok.filter((m) => m >= 0).length;
    mean = {
      tasks: perTask.length,
      difference: defined.reduce((s, t) => s + t.difference!, 0) / defined.length,
      interval: percentileInterval(means, options.level ?? 0.95),
      p: ok.length ? Math.min(1, (2 * (Math.min(below, above) + 1)) / (ok.length + 1)) : null,
    };
  }
  const arm = (x: typeof a) => `${x.mode} (${x.backbone})`;
  return { title, a: arm(a), b: arm(b), perTask, mean };
}

/**
 * The comparisons the benchmark is about: LoRA and attention pooling against the linear probe
 * (and LoRA against attention pooling) on each backbone, and the medical against the general
 * backbone in each mode — per task and as the mean over tasks, with paired bootstrap tests.
 */
export function compareCells(cells: readonly CellResult[], options: CompareOptions): Comparison[] {
  const out: Comparison[] = [];
  const backbones = [...new Set(cells.map((c) => c.backbone.name))];
  const pairs: [BenchmarkMode, BenchmarkMode][] = [
    ['lora', 'probe'],
    ['attn', 'probe'],
    ['lora', 'attn'],
  ];
  for (const backbone of backbones) {
    for (const [x, y] of pairs) {
      const c = compareArms(
        cells,
        `${x} − ${y} on ${backbone}`,
        { backbone, mode: x },
        { backbone, mode: y },
        options.bootstrap,
      );
      if (c) out.push(c);
    }
  }
  if (options.general && options.medical) {
    for (const mode of ['probe', 'attn', 'lora'] as const) {
      const c = compareArms(
        cells,
        `${options.medical} − ${options.general}, ${mode}`,
        { backbone: options.medical, mode },
        { backbone: options.general, mode },
        options.bootstrap,
      );
      if (c) out.push(c);
    }
  }
  return out;
}
