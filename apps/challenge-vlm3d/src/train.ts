import { join } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters';
import { FrozenEmbedder } from '@anymc3d/core/backbone';
import { readCtRate } from '@anymc3d/core/datasets';
import { FeatureCache } from '@anymc3d/core/features';
import type { Device } from '@anymc3d/core/graph';
import { auroc, selectThresholds, type ThresholdCriterion } from '@anymc3d/core/metrics';
import { loadPlugin, type PluginCard, savePlugin, type TaskCard } from '@anymc3d/core/plugin';
import type { ManifestCase } from '@anymc3d/core/task';
import { taskCard } from '@anymc3d/core/tasks';
import { type FeatureCase, trainPlugin } from '@anymc3d/core/train';
import { InputError, writeFileAtomic } from '@anymc3d/core/util';
import { readCase } from './preprocess.js';
import {
  CHEST_WINDOWS_CW,
  chestInput,
  DEFAULT_SPACING,
  defaultSettings,
  SETTINGS_FILE,
  type Vlm3dSettings,
} from './weights.js';

export interface TrainOptions {
  /** A CT-RATE download (the folder holding `dataset/`). */
  ctRate: string;
  /** A backbone folder or registry name. */
  backbone: string;
  /** Plugin folder to write. */
  output: string;
  /** Token cache folder (reused across runs; keyed by backbone and preprocessing). */
  cache?: string;
  inputSize?: number;
  spacing?: Vlm3dSettings['spacing'];
  steps?: number;
  batchSize?: number;
  lrHead?: number;
  criterion?: ThresholdCriterion;
  /** Use only the first N train and N val cases (dry runs). */
  limit?: number;
  device?: Device;
  threads?: number;
  log?: (line: string) => void;
}

/**
 * Trains the 18-label CT-RATE plugin on frozen backbone tokens: every train/val volume prepared
 * exactly as `run` prepares it, embedded once (cached), the plugin trained on the train split,
 * then each label's threshold chosen on the val split and written into the card, so the
 * packaged model's folded probabilities put the scorer's 0.5 at that operating point.
 */
export async function trainCtRate(options: TrainOptions): Promise<PluginCard> {
  const log = options.log ?? (() => {});
  const catalogue = await taskCard('ct-rate');
  const manifest = await readCtRate(options.ctRate, catalogue);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const train = manifest.cases.filter((c) => c.split === 'train').slice(0, limit);
  const val = manifest.cases.filter((c) => c.split === 'val').slice(0, limit);
  if (train.length === 0 || val.length === 0)
    throw new InputError(options.ctRate, `need train and val cases (got ${train.length} and ${val.length})`);
  const backbone = await resolveBackbone(options.backbone);
  const size = options.inputSize ?? backbone.card.inputSize[0];
  const input = chestInput(size);
  const task: TaskCard = {
    task: 'ct-rate-18',
    kind: 'multilabel',
    labels: [...catalogue.labels],
    views: ['axial'],
    axis: 'axial',
    windows: CHEST_WINDOWS_CW,
    inputSize: [size, size],
    input,
  };
  const settings = {
    orientation: 'LPS',
    spacing: options.spacing ?? ([...DEFAULT_SPACING] as Vlm3dSettings['spacing']),
  };
  const cache = options.cache
    ? new FeatureCache(options.cache, {
        backboneHash: backbone.weightHash,
        preprocessing: { ...settings, axis: task.axis, windows: task.windows, inputSize: task.inputSize, v: 1 },
      })
    : undefined;
  const embedder = new FrozenEmbedder(backbone, {
    ...(options.device ? { device: options.device } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
  });
  const features = async (cases: ManifestCase[], what: string): Promise<FeatureCase[]> => {
    const out: FeatureCase[] = [];
    const started = Date.now();
    for (const [k, c] of cases.entries()) {
      let tokens: Float32Array;
      if (cache?.has(c.id, 'axial')) {
        tokens = (await cache.read(c.id, 'axial')).get('cls')!.data as Float32Array;
      } else {
        const prepared = await readCase(c.images[0]!, input, backbone.card, settings);
        const e = await embedder.embed({
          dtype: 'float32',
          dims: [prepared.slices, 3, size, size],
          data: prepared.pixels,
        });
        tokens = e.cls.data as Float32Array;
        await cache?.write(c.id, 'axial', { cls: e.cls });
      }
      out.push({ id: c.id, tokens, slices: tokens.length / backbone.card.embedDim, labels: Array.from(c.labels) });
      if ((k + 1) % 50 === 0 || k + 1 === cases.length)
        log(`${what}: ${k + 1}/${cases.length} embedded (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    return out;
  };
  let trainSet: FeatureCase[];
  let valSet: FeatureCase[];
  try {
    trainSet = await features(train, 'train');
    valSet = await features(val, 'val');
  } finally {
    await embedder.release();
  }
  const id = { name: backbone.card.name, weightHash: backbone.weightHash };
  await trainPlugin({
    source: { features: trainSet, backbone: id },
    task,
    outDir: options.output,
    options: {
      steps: options.steps ?? 2000,
      batchSize: options.batchSize ?? 32,
      ...(options.lrHead ? { lrHead: options.lrHead } : {}),
      warmup: Math.min(100, Math.floor((options.steps ?? 2000) / 10)),
    },
    data: `${options.ctRate} (CT-RATE, ${train.length} train cases)`,
    ...(options.threads ? { threads: options.threads } : {}),
    onProgress: (p) => {
      if (p.step % 50 === 0) log(`step ${p.step}: loss ${p.loss.toFixed(4)}, eta ${p.etaSeconds.toFixed(0)} s`);
    },
  });
  // Thresholds and validation AUROC from the val split.
  const plugin = await loadPlugin(options.output, id, options.threads ? { threads: options.threads } : {});
  const L = task.labels.length;
  const scores = task.labels.map(() => new Float64Array(valSet.length));
  const truth = task.labels.map(() => new Uint8Array(valSet.length));
  try {
    for (const [i, c] of valSet.entries()) {
      const { probabilities } = await plugin.predictTokens(c.tokens, c.slices);
      for (let l = 0; l < L; l++) {
        scores[l]![i] = probabilities[l]!;
        truth[l]![i] = c.labels[l]!;
      }
    }
  } finally {
    await plugin.release();
  }
  const criterion = options.criterion ?? 'f1';
  const chosen = selectThresholds({ scores, truth }, criterion);
  const card: PluginCard = {
    ...plugin.card,
    thresholds: chosen.map((t, l) => t ?? plugin.card.thresholds[l] ?? 0.5),
    metrics: Object.fromEntries(
      task.labels.flatMap((label, l) => {
        const a = auroc(scores[l]!, truth[l]!);
        return a === null || Number.isNaN(a) ? [] : [[`val_auroc/${label}`, a]];
      }),
    ),
  };
  card.training = { ...card.training, options: { ...card.training.options, thresholdsOn: val.length } };
  await savePlugin(options.output, card, plugin.weights);
  // The preprocessing travels with the plugin; `vlm3d package` copies it into the weights folder.
  const written: Vlm3dSettings = { ...defaultSettings(id), ...settings };
  await writeFileAtomic(join(options.output, SETTINGS_FILE), `${JSON.stringify(written, null, 2)}\n`);
  log(`thresholds (${criterion} on ${val.length} val cases) written to ${options.output}/plugin.json`);
  return card;
}
