import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BackboneEmbedder } from '@anymc3d/core/backbone';
import { safeName } from '@anymc3d/core/features';
import type { Device, Precision } from '@anymc3d/core/graph';
import { caseHeatmaps, pluginEmbedder, writeHeatmapOutputs } from '@anymc3d/core/heatmap';
import type { VolumeEmbedding } from '@anymc3d/core/pipeline';
import {
  inputViews,
  PLUGIN_CARD,
  type PluginCard,
  type PluginInput,
  pluginInput,
  readPlugin,
  recipeFeatureCache,
} from '@anymc3d/core/plugin';
import { casesOf, SPLITS, type Split, type TaskCard, taskInput } from '@anymc3d/core/task';
import { InputError } from '@anymc3d/core/util';
import type { Processed } from '@anymc3d/core/volume';
import { adaptedPredictions, caseViewVolumes, foldRows, predictCases } from '@anymc3d/core/workflows';
import type { CommandModule } from 'yargs';
import { writeCliCaseReport } from '../pipeline/case-report.js';
import { extractTokens, featureCases } from '../pipeline/extract.js';
import { pluginHash, writePredictions } from '../pipeline/outputs.js';
import { createProgress } from '../progress.js';
import { runCaseJobs } from '../queue/submit.js';
import { type PluginPrecisionFlag, pluginPrecisionFlag, precisionFor } from './precision-flag.js';
import { type ScaleFlags, scaledCases, scaleFlags } from './scale-flags.js';
import { jobBackbone, loadTaskInputs, type TaskFlags, taskFlags } from './task-flags.js';

/**
 * What the plugin reads: its recorded input. A plugin written before the record was trained by
 * `anymc3d train` from this task card (labels and views are checked to match), so the card's input
 * at the plugin's size is what it saw, and the cached tokens of that training are found again.
 */
function predictInput(plugin: PluginCard, card: TaskCard, dir: string): PluginInput {
  return plugin.input ? pluginInput(plugin, join(dir, PLUGIN_CARD)) : taskInput(card, plugin.inputSize);
}

/**
 * What an earlier run left in this output folder: each case's written probabilities, by id, when
 * they came from the same plugin (the weights' sha256 in provenance.json) and the same labels;
 * otherwise nothing is reused.
 */
async function earlierPredictions(
  outDir: string,
  sha256: string,
  labels: readonly string[],
  precision: Precision,
): Promise<Map<string, number[]>> {
  const read = async (name: string) => JSON.parse(await readFile(join(outDir, name), 'utf8')) as unknown;
  let provenance: { plugin?: { sha256?: string }; backbone?: { precision?: string } };
  let predictions: { labels?: string[]; cases?: { id: string; probabilities: Record<string, number> }[] };
  try {
    provenance = (await read('provenance.json')) as typeof provenance;
    predictions = (await read('predictions.json')) as typeof predictions;
  } catch {
    return new Map(); // nothing written yet (or not readable): everything is predicted
  }
  // Rows kept from another arithmetic would mix two runs' numbers in one file (fp32 before precision was recorded).
  const samePrecision = (provenance.backbone?.precision ?? 'fp32') === precision;
  if (
    provenance.plugin?.sha256 !== sha256 ||
    !samePrecision ||
    JSON.stringify(predictions.labels) !== JSON.stringify(labels)
  )
    return new Map();
  return new Map((predictions.cases ?? []).map((c) => [c.id, labels.map((l) => c.probabilities[l]!)]));
}

interface PredictArgs extends TaskFlags, ScaleFlags, PluginPrecisionFlag {
  continue: boolean;
  plugin: string;
  split: string;
  heatmaps: boolean;
  'heatmap-limit'?: number;
  report: boolean;
}

export const predictCommand: CommandModule<TaskFlags, PredictArgs> = {
  command: 'predict',
  describe:
    'Predict the cases of a manifest with a trained plugin (a LoRA plugin runs its adapted backbone per case): predictions.json, predictions.csv, provenance.json',
  builder: (y) =>
    pluginPrecisionFlag(scaleFlags(taskFlags(y)))
      .option('plugin', {
        alias: 'p',
        type: 'string',
        demandOption: true,
        describe: 'Plugin folder (plugin.json + plugin.safetensors)',
      })
      .option('split', {
        type: 'string',
        default: 'all',
        choices: ['all', ...SPLITS],
        describe: 'Which cases of the manifest',
      })
      .option('heatmaps', {
        type: 'boolean',
        default: false,
        describe: 'Also write heatmaps (NIfTI on the input grid, PNG montage, JSON) under OUTPUT/heatmaps/<case>/',
      })
      .option('continue', {
        type: 'boolean',
        default: false,
        describe:
          'Keep the cases OUTPUT/predictions.json already holds from this plugin and predict only the others (a killed or partial run)',
      })
      .option('heatmap-limit', { type: 'number', describe: 'Heatmaps for at most this many cases (default: all)' })
      .option('report', {
        type: 'boolean',
        default: false,
        describe:
          'Also write OUTPUT/reports/<case>.html per case: self-contained (opens offline), probabilities against thresholds, the montage when heatmaps were made, provenance',
      }),
  handler: async (a) => {
    const started = Date.now();
    const t = await loadTaskInputs(a, { requireSplits: [] });
    const backboneId = { name: t.backbone.card.name, weightHash: t.backbone.weightHash };
    const { card: pluginCard } = await readPlugin(a.plugin, backboneId);
    // Tokens in the arithmetic the plugin was trained on unless --precision says otherwise (refused for LoRA).
    const precision = precisionFor(pluginCard, a.precision, a.plugin);
    const card = t.manifest.card;
    const cardLabels = JSON.stringify(card.labels);
    if (
      JSON.stringify(pluginCard.labels) !== cardLabels ||
      pluginCard.views.join() !== card.views.map((v) => v.name).join()
    )
      throw new InputError(
        join(a.plugin, 'plugin.json'),
        `plugin predicts ${JSON.stringify(pluginCard.labels)} from views ${pluginCard.views.join(', ')}; the task card has ${cardLabels} from ${card.views.map((v) => v.name).join(', ')}`,
      );
    const scaled = scaledCases(a.split === 'all' ? t.manifest.cases : casesOf(t.manifest, a.split as Split), a);
    const { redis } = scaled;
    const all = scaled.cases;
    // --continue: the cases this output folder already holds, from this very plugin, are kept as written.
    // The plugin's weights, hashed once: provenance, --continue and the workers' job ids all name them.
    const pluginSha = await pluginHash(a.plugin);
    const earlier = a.continue ? await earlierPredictions(t.outDir, pluginSha, card.labels, precision) : new Map();
    const cases = all.filter((c) => !earlier.has(c.id));
    if (all.length === 0)
      throw new InputError(
        a.manifest,
        `has no ${a.split} cases${a['num-parts'] > 1 ? ` in part ${a['part-id']}` : ''}`,
      );
    if (redis && (a.heatmaps || a.report))
      throw new InputError(
        '--redis',
        'heatmaps and reports are made by a local run: run predict --heatmaps/--report without --redis',
      );
    // The plugin's own input (size, axes, channels, normalisation): tokens and heatmaps alike see what it was trained on.
    const input = predictInput(pluginCard, card, a.plugin);
    const inputSize = input.size;
    const progress = createProgress({ enabled: a.progress, quiet: a.quiet });
    try {
      const device = a.device as Device;
      // A LoRA plugin's tokens come from its own adapted backbone: frozen (cached) tokens would give it wrong answers silently.
      const adapted = pluginCard.lora !== null && pluginCard.lora !== undefined;
      const mapCount = a.heatmaps ? Math.min(a['heatmap-limit'] ?? cases.length, cases.length) : 0;
      const views = inputViews(input, t.backbone.card);
      const montages = new Map<number, { label: string; png: string }>();
      const mapPlugin = mapCount > 0 ? { ...(await readPlugin(a.plugin, backboneId)), source: a.plugin } : undefined;
      /**
       * Case k's maps, from a pass already run (a LoRA plugin's prediction pass) or from their own
       * pass through a frozen embedder kept for every case.
       */
      const writeMaps = async (
        k: number,
        volumes: Processed[],
        pass: { embeddings: VolumeEmbedding[] } | { embedder: BackboneEmbedder },
      ) => {
        const c = cases[k]!;
        progress.report({ stage: 'heatmaps', done: k, total: mapCount, detail: c.id });
        // Each view reads its own image, as its tokens did; the map lies on the first view's image,
        // the one the reviewer overlays it on.
        const distinct = new Set(c.images).size > 1;
        const volume = volumes[0]!;
        const result = await caseHeatmaps({
          volume,
          views,
          backbone: t.backbone,
          plugin: { card: pluginCard, weights: mapPlugin!.weights, source: a.plugin },
          ...(distinct ? { volumes, volumeSources: c.images } : {}),
          ...pass,
          ...(a.threads ? { threads: a.threads } : {}),
          // The arithmetic of the tokens the case's probability came from, so the map agrees with it.
          precision,
        });
        const mapFiles = await writeHeatmapOutputs(join(t.outDir, 'heatmaps', safeName(c.id)), result, {
          image: volume,
          view: views[0]!,
          png: true,
          caption: { caseId: c.id, plugin: `${pluginCard.task} plugin` },
          provenance: {
            input: c.images[0]!,
            ...(distinct ? { inputs: c.images } : {}),
            plugin: a.plugin,
            precision,
          },
        });
        montages.set(k, { label: result.summary.label, png: mapFiles.png! });
      };
      // With Redis each case is predicted by a worker (its backbone pass, its cache entries); the rows come back in case order.
      const viaWorkers = async () => {
        const backbone = jobBackbone({ ...a, precision }, t.backbone);
        const results = await runCaseJobs(
          redis!,
          cases.map((c) => ({
            kind: 'predict' as const,
            backbone,
            plugin: { dir: resolve(a.plugin), sha256: pluginSha },
            card,
            input,
            case: { id: c.id, images: c.images },
            cacheRoot: t.cacheRoot,
          })),
          { stage: 'predict', report: progress.report },
        );
        return {
          rows: results.map((r) => r.row!),
          cacheDir: adapted ? null : recipeFeatureCache(t.cacheRoot, t.backbone, input, views, precision).dir,
          computed: results.reduce((n, r) => n + r.computed, 0),
        };
      };
      const features = redis
        ? await viaWorkers()
        : adapted
          ? {
              rows: await adaptedPredictions(cases, {
                dir: a.plugin,
                backbone: t.backbone,
                input,
                device,
                ...(a.threads ? { threads: a.threads } : {}),
                report: progress.report,
                // The maps of the first cases come from their prediction pass: one adapted pass per case, not two.
                withMaps: (k) => k < mapCount,
                onCase: (k, volumes, embeddings) => writeMaps(k, volumes, { embeddings }),
              }),
              cacheDir: null,
              computed: cases.length * input.views.length,
            }
          : await (async () => {
              const extracted = await extractTokens(cases, {
                input,
                backbone: t.backbone,
                cacheRoot: t.cacheRoot,
                precision,
                device,
                ...(a.threads ? { threads: a.threads } : {}),
                report: progress.report,
              });
              const rows = await predictCases(
                a.plugin,
                backboneId,
                featureCases(cases, extracted.tokens, card),
                a.threads,
              );
              return { rows, cacheDir: extracted.cacheDir, computed: extracted.computed };
            })();
      const t1 = Date.now();
      const computedRows = foldRows(features.rows, pluginCard.thresholds, pluginCard.kind);
      const fresh = new Map(cases.map((c, k) => [c.id, computedRows[k]!]));
      const rows = all.map((c) => fresh.get(c.id) ?? earlier.get(c.id)!);
      progress.stop();
      const files = await writePredictions(
        t.outDir,
        {
          labels: card.labels,
          ids: all.map((c) => c.id),
          probabilities: rows,
          multiclass: pluginCard.kind === 'multiclass',
        },
        {
          task: card.id,
          manifest: t.manifest.source,
          split: a.split,
          // adapted: every case ran through the backbone with the plugin's LoRA (no feature cache).
          backbone: { ...backboneId, inputSize, adapted, precision },
          plugin: { dir: a.plugin, sha256: pluginSha, thresholds: pluginCard.thresholds },
          featureCache: features.cacheDir,
          timing: {
            // With LoRA the backbone pass, the head and the first cases' maps are one stage, counted under features.
            seconds: { features: (t1 - started) / 1000, total: (Date.now() - started) / 1000 },
            backboneEntriesComputed: features.computed,
          },
        },
      );
      if (a.heatmaps) {
        // A frozen plugin's tokens came from the cache (cls only): its maps need their own pass,
        // through one embedder for every case (its session built once, not per case).
        if (!adapted && mapCount > 0) {
          const embedder = pluginEmbedder(t.backbone, mapPlugin!, 0, {
            precision,
            device,
            ...(a.threads ? { threads: a.threads } : {}),
          });
          try {
            for (const [k, c] of cases.slice(0, mapCount).entries()) {
              await writeMaps(k, await caseViewVolumes(c, input, views.length), { embedder });
            }
          } finally {
            await embedder.release();
          }
        }
        progress.report({ stage: 'heatmaps', done: mapCount, total: mapCount });
        files.push(join(t.outDir, 'heatmaps'));
      }
      if (a.report) {
        for (const [k, c] of cases.entries()) {
          progress.report({ stage: 'reports', done: k, total: cases.length, detail: c.id });
          const m = montages.get(k);
          await writeCliCaseReport(join(t.outDir, 'reports', `${safeName(c.id)}.html`), {
            caseId: c.id,
            card: pluginCard,
            pluginDir: a.plugin,
            probabilities: features.rows[k]!,
            backbone: backboneId,
            input: c.images,
            montages: m ? [m] : [],
          });
        }
        progress.report({ stage: 'reports', done: cases.length, total: cases.length });
        files.push(join(t.outDir, 'reports'));
      }
      if (!a.quiet) process.stdout.write(`${cases.length} cases → ${files.join(', ')}\n`);
    } finally {
      progress.stop();
    }
  },
};
