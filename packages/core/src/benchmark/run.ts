import { type EmbedderOptions, FrozenEmbedder } from '../backbone/embedder.js';
import type { Backbone } from '../backbone/types.js';
import { FeatureCache, hashOf } from '../features/cache.js';
import { recipeKey } from '../plugin/recipe.js';
import type { TaskCard } from '../task/card.js';
import type { Manifest } from '../task/manifest.js';
import { pluginTaskOf, taskInput } from '../task/plugin-task.js';
import type { FeatureCase } from '../train/features.js';
import { caseTokens, checkSplits, meanPooled, splitCases, volumeCases } from './cases.js';
import { type BenchmarkMode, type CellResult, cellDir, readCell, writeCell } from './results.js';
import { benchmarkView } from './task-inputs.js';
import { type CellData, type CellSettings, trainCell } from './train-cell.js';

export interface BenchmarkEvent {
  stage: 'features' | 'train' | 'cell';
  done: number;
  total: number;
  detail: string;
}

export interface BenchmarkPlan {
  /** The results folder: one `cells/<task>/<backbone>/<mode>/result.json` per finished cell. */
  out: string;
  /** Root of the frozen-token cache (shared between runs and commands). */
  cacheRoot: string;
  tasks: { card: TaskCard; manifest: Manifest }[];
  backbones: Backbone[];
  modes: BenchmarkMode[];
  /** In-plane input size for every backbone (default: the task card's). */
  size?: [number, number];
  settings: CellSettings;
  embedder?: EmbedderOptions;
  onEvent?: (e: BenchmarkEvent) => void;
}

export interface BenchmarkRun {
  cells: CellResult[];
  /** Cells finished by this run (the rest were read back from an earlier run). */
  trained: number;
  /** (case, view) token sets computed by the backbone in this run (the rest came from the cache). */
  extracted: number;
}

/** The settings that decide a cell's result (threads only change speed). */
function cellKey(plan: BenchmarkPlan, card: TaskCard, manifest: Manifest, backbone: Backbone, mode: BenchmarkMode) {
  const view = benchmarkView(card, backbone, plan.size);
  const { threads: _threads, ...settings } = plan.settings;
  return hashOf({
    card,
    dataset: manifest.source,
    cases: manifest.cases.map((c) => [c.id, c.split, c.images, Array.from(c.labels)]),
    backbone: backbone.weightHash,
    view,
    mode,
    settings: {
      ...settings,
      steps: mode === 'lora' ? settings.loraSteps : settings.steps,
      loraSteps: undefined,
    },
  });
}

/**
 * Runs every task × backbone × mode cell: frozen tokens come from the feature cache (computed
 * once, never again), each cell trains on train, selects on val and scores test once, and its
 * result is written atomically — a rerun reads finished cells back and does only what is left.
 */
export async function runBenchmark(plan: BenchmarkPlan): Promise<BenchmarkRun> {
  const cells: CellResult[] = [];
  let trained = 0;
  let extracted = 0;
  const total = plan.tasks.length * plan.backbones.length * plan.modes.length;
  const emit = (e: BenchmarkEvent) => plan.onEvent?.(e);
  for (const { card, manifest } of plan.tasks) {
    checkSplits(manifest);
    for (const backbone of plan.backbones) {
      const view = benchmarkView(card, backbone, plan.size);
      // The task card's recipe, prepared by the one case pipeline every other consumer uses.
      const input = taskInput(card, view.size);
      const task = pluginTaskOf(card, view.size);
      const pending: { mode: BenchmarkMode; key: string; dir: string }[] = [];
      for (const mode of plan.modes) {
        const key = cellKey(plan, card, manifest, backbone, mode);
        const dir = cellDir(plan.out, card.id, backbone.card.name, mode);
        const done = await readCell(dir, key);
        if (done) {
          cells.push(done);
          emit({
            stage: 'cell',
            done: cells.length,
            total,
            detail: `${card.id} ${backbone.card.name} ${mode} (done before)`,
          });
        } else pending.push({ mode, key, dir });
      }
      if (pending.length === 0) continue;
      let tokens: Map<string, FeatureCase[]> | undefined;
      if (pending.some((p) => p.mode !== 'lora')) {
        // Keyed by the dataset too: benchmark manifests (MedMNIST) reuse case ids across datasets. The
        // benchmark runs CT cards (no MRI normalisation), so only the recipe's spatial and HU fields add to the key.
        const { normalisation: _none, ...recipe } = recipeKey(input);
        const cache = new FeatureCache(plan.cacheRoot, {
          backboneHash: backbone.weightHash,
          preprocessing: { view, dataset: manifest.source, ...recipe },
        });
        const embedder = new FrozenEmbedder(backbone, plan.embedder);
        const r = await caseTokens(manifest, input, view, embedder, cache, (p) =>
          emit({
            stage: 'features',
            done: p.done,
            total: p.total,
            detail: `${card.id} ${backbone.card.name}: ${p.fromCache} cached, ${p.slicesPerSecond.toFixed(0)} slices/s`,
          }),
        );
        tokens = r.bySplit;
        extracted += r.computed;
      }
      for (const { mode, key, dir } of pending) {
        let data: CellData;
        if (mode === 'lora' && backbone.loraTargets().length === 0) {
          data = { train: [], val: [], test: [] }; // trainCell records the mode as not supported.
        } else if (mode === 'lora') {
          // One split after another: the MedMNIST reader keeps the split it read last.
          const train = await volumeCases(splitCases(manifest, 'train'), input, view);
          const val = await volumeCases(splitCases(manifest, 'val'), input, view);
          const test = await volumeCases(splitCases(manifest, 'test'), input, view);
          data = { train, val, test };
        } else {
          const pick = (s: 'train' | 'val' | 'test') =>
            mode === 'probe' ? meanPooled(tokens!.get(s)!) : tokens!.get(s)!;
          data = { train: pick('train'), val: pick('val'), test: pick('test') };
        }
        const cell = await trainCell({
          mode,
          root: plan.out,
          dir,
          key,
          task,
          backbone,
          data,
          settings: plan.settings,
          onProgress: (p) =>
            emit({
              stage: 'train',
              done: p.step,
              total: p.totalSteps,
              detail: `${card.id} ${backbone.card.name} ${mode}: loss ${p.loss.toFixed(4)}`,
            }),
        });
        await writeCell(dir, cell);
        cells.push(cell);
        trained++;
        emit({ stage: 'cell', done: cells.length, total, detail: `${card.id} ${backbone.card.name} ${mode}` });
      }
    }
  }
  return { cells, trained, extracted };
}
