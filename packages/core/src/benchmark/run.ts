import { BackboneEmbedder, type EmbedderOptions } from '../backbone/embedder.js';
import type { Backbone } from '../backbone/types.js';
import { hashOf } from '../features/cache.js';
import type { PluginInput } from '../plugin/input.js';
import { recipeFeatureCache } from '../plugin/recipe.js';
import type { TaskCard } from '../task/card.js';
import type { Manifest } from '../task/manifest.js';
import { pluginTaskOf, taskInput } from '../task/plugin-task.js';
import type { FeatureCase } from '../train/features.js';
import { volumeCases } from '../workflows/volume-cases.js';
import { caseTokens, checkSplits, meanPooled, splitCases } from './cases.js';
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
      // Augmentation acts on LoRA's volumes only: the frozen cells' results do not depend on it.
      augment: mode === 'lora' ? settings.augment : undefined,
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
      // LoRA cells train with the method's augmentation when the settings carry it; the plugin records it.
      const loraInput: PluginInput = {
        ...input,
        augmentation: plan.settings.augment ? { method: 'nnunet-3d', ...plan.settings.augment } : null,
      };
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
        // The recipe's one cache (`anymc3d features|train` and vlm3d use it too); entries are named by content.
        const cache = recipeFeatureCache(plan.cacheRoot, backbone, input, [view]);
        const embedder = new BackboneEmbedder(backbone, plan.embedder);
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
          // The one on-demand case source of `anymc3d train`: read and prepared when used, each training use augmented.
          const split = (s: 'train' | 'val' | 'test') => volumeCases(splitCases(manifest, s), loraInput, [view]);
          data = { train: await split('train'), val: await split('val'), test: await split('test') };
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
          task: mode === 'lora' ? { ...task, input: loraInput } : task,
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
