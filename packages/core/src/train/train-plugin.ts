import { createHash } from 'node:crypto';
import type { Backbone, LoraConfig } from '../backbone/index.js';
import { DEFAULT_LORA } from '../backbone/lora.js';
import type { Device, Tensor } from '../graph/index.js';
import type { PluginBackbone, PluginCard, TaskCard } from '../plugin/card.js';
import { pluginInput } from '../plugin/input.js';
import { addViewQueries } from '../plugin/multi-view.js';
import { initPluginWeights, type PluginSpec } from '../plugin/plugin-graph.js';
import { savePlugin } from '../plugin/store.js';
import { InputError } from '../util/errors.js';
import { AdamW } from './adamw.js';
import { LoraTrainer, type VolumeCase } from './backbone-trainer.js';
import { resumeCheckpoint, saveCheckpoint } from './checkpoint.js';
import { type FeatureCase, featureGradient } from './features.js';
import { DEFAULT_OPTIM, type OptimOptions, type Progress, runTraining, type TrainState } from './loop.js';

export type TrainSource =
  | { features: FeatureCase[]; backbone: PluginBackbone }
  | {
      backbone: Backbone;
      cases: VolumeCase[];
      lora?: LoraConfig;
      /** Slices per recompute chunk (bounded memory on any slice count). */
      chunk?: number;
      /** The train-only seg decoder on cases with `segMask`. */
      seg?: { hidden: number; lambda: number };
    };

export interface TrainPluginArgs {
  source: TrainSource;
  task: TaskCard;
  outDir: string;
  options?: Partial<OptimOptions>;
  /** Save a resumable checkpoint every this many steps (default 50, and always at the end). */
  checkpointEvery?: number;
  onProgress?: (p: Progress) => void;
  /** Description of the training data for the card (e.g. a manifest path). */
  data?: string;
  threads?: number;
  /** Where a backbone (LoRA) source trains (default cpu). Plugin-only training on tokens always runs on the CPU. */
  device?: Device;
  /** Stop after this optimiser step, leaving the checkpoint (tests of kill-and-resume). */
  stopAfter?: number;
}

export interface TrainedPlugin {
  card: PluginCard;
  weights: Map<string, Tensor>;
  losses: number[];
  resumedFrom: number;
}

function checkLabels(task: TaskCard, labels: readonly (readonly number[])[], what: string): void {
  labels.forEach((l, k) => {
    if (l.length !== task.labels.length) {
      throw new InputError(what, `case ${k} has ${l.length} label values, the task has ${task.labels.length} labels`);
    }
  });
}

/**
 * Trains a plugin: from cached frozen tokens (plugin only, the probe baseline) or through a
 * backbone with LoRA. Writes `plugin.safetensors` + `plugin.json` to `outDir`, checkpoints
 * periodically, and resumes from a checkpoint left by an interrupted run of the same settings.
 */
export async function trainPlugin(args: TrainPluginArgs): Promise<TrainedPlugin> {
  const o: OptimOptions = { ...DEFAULT_OPTIM, ...args.options };
  const { task, source } = args;
  // Checked before any training: the record must agree with the views and size trained on.
  const input = pluginInput(task, args.data ?? task.task);
  const featureMode = 'features' in source;
  const dim = featureMode
    ? (source.features[0]?.tokens.length ?? 0) / (source.features[0]?.slices || 1)
    : source.backbone.card.embedDim;
  const spec: PluginSpec = {
    dim,
    labels: task.labels,
    kind: task.kind,
    loss: task.loss ?? (task.kind === 'multiclass' ? 'ce' : 'focal'),
  };
  const views = task.views.length;
  // Feature mode adds the view and fusion queries here; LoraTrainer adds them itself.
  const plugin =
    featureMode && views > 1
      ? addViewQueries(initPluginWeights(spec, o.seed), views, o.seed)
      : initPluginWeights(spec, o.seed);
  let gradient: Parameters<typeof runTraining>[0]['gradient'];
  let params: Map<string, Tensor>;
  let groups: Map<string, string>;
  let caseCount: number;
  let release: () => Promise<void>;
  let backboneId: PluginBackbone;
  let lora: LoraConfig | undefined;
  const dataHash = createHash('sha256');
  if (featureMode) {
    if (!source.features.length) throw new InputError(args.data ?? 'features', 'no training cases');
    checkLabels(
      task,
      source.features.map((c) => c.labels),
      args.data ?? 'features',
    );
    source.features.forEach((c, k) => {
      if (1 + (c.moreViews?.length ?? 0) !== views)
        throw new InputError(
          args.data ?? 'features',
          `case ${k} (${c.id}) has ${1 + (c.moreViews?.length ?? 0)} views, the task has ${views} (${task.views.join(', ')})`,
        );
    });
    const f = await featureGradient(spec, plugin, source.features, args.threads, views);
    gradient = f.gradient;
    params = plugin;
    groups = new Map([...plugin.keys()].map((k) => [k, 'head']));
    caseCount = source.features.length;
    release = () => f.session.release();
    backboneId = source.backbone;
    for (const c of source.features)
      for (const v of [c, ...(c.moreViews ?? [])])
        dataHash.update(c.id).update(new Uint8Array(v.tokens.buffer, v.tokens.byteOffset, v.tokens.byteLength));
  } else {
    if (!source.cases.length) throw new InputError(args.data ?? 'cases', 'no training cases');
    checkLabels(
      task,
      source.cases.map((c) => c.labels),
      args.data ?? 'cases',
    );
    lora = source.lora ?? { ...DEFAULT_LORA, seed: o.seed };
    const t = await LoraTrainer.create(source.backbone, spec, {
      inputSize: task.inputSize,
      lora,
      plugin,
      ...(source.chunk ? { chunk: source.chunk } : {}),
      ...(task.views.length > 1 ? { views: task.views.length } : {}),
      ...(source.seg ? { seg: source.seg } : {}),
      ...(args.threads ? { threads: args.threads } : {}),
      ...(args.device ? { device: args.device } : {}),
    });
    gradient = t.gradient(source.cases);
    params = t.params;
    groups = t.groups;
    caseCount = source.cases.length;
    release = () => t.release();
    backboneId = { name: source.backbone.card.name, weightHash: source.backbone.weightHash };
    for (const c of source.cases) {
      dataHash.update(c.id);
      if (c.contentKey !== undefined) {
        dataHash.update(`\0key:${c.contentKey}`);
        continue;
      }
      await c.load?.();
      dataHash.update(new Uint8Array(c.pixels.buffer, c.pixels.byteOffset, c.pixels.byteLength));
    }
  }
  const runKey = createHash('sha256')
    .update(JSON.stringify({ o, spec, backbone: backboneId.weightHash, lora: lora ?? null }))
    .update(dataHash.digest())
    .digest('hex');
  const state: TrainState = { step: 0, params, optimizer: new AdamW() };
  await resumeCheckpoint(args.outDir, state, runKey);
  const resumedFrom = state.step;
  const every = args.checkpointEvery ?? 50;
  let losses: number[];
  try {
    losses = await runTraining({
      state,
      caseCount,
      options: o,
      groups,
      gradient,
      ...(args.onProgress ? { onProgress: args.onProgress } : {}),
      ...(args.stopAfter !== undefined ? { stopAfter: args.stopAfter } : {}),
      afterStep: async (s) => {
        if (s.step % every === 0 || s.step === o.steps || s.step === args.stopAfter)
          await saveCheckpoint(args.outDir, s, runKey);
      },
    });
  } finally {
    await release();
  }
  const loraCount = [...groups].filter(([, g]) => g === 'lora').reduce((n, [k]) => n + params.get(k)!.data.length, 0);
  // The seg decoder is train-only: neither counted nor saved with the plugin.
  const inference = new Map([...params].filter(([k]) => !k.startsWith('plugin.seg.')));
  const headCount = [...inference].filter(([k]) => groups.get(k) !== 'lora').reduce((n, [, t]) => n + t.data.length, 0);
  const card: PluginCard = {
    format: 'anymc3d-plugin',
    version: 1,
    ...task,
    // Always recorded (derived from the old fields when the caller gave none), so every consumer reads one record.
    input,
    loss: spec.loss,
    thresholds: task.thresholds ?? task.labels.map(() => 0.5),
    dim,
    backbone: backboneId,
    lora: lora
      ? {
          rank: lora.rank,
          alpha: lora.alpha,
          targets: [...groups]
            .filter(([, g]) => g === 'lora')
            .map(([k]) => k.replace(/^(view\d+\.)?lora\.|\.[AB]$/g, ''))
            .filter((v, i, a) => a.indexOf(v) === i),
        }
      : null,
    parameters: { lora: loraCount, head: headCount, total: loraCount + headCount },
    training: { cases: caseCount, ...(args.data ? { data: args.data } : {}), steps: state.step, options: { ...o } },
    metrics: {},
  };
  if (state.step >= o.steps) await savePlugin(args.outDir, card, inference);
  return { card, weights: params, losses, resumedFrom };
}
