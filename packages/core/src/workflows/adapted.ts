import type { Backbone } from '../backbone/index.js';
import type { Device } from '../graph/index.js';
import { heatmapEmbedOptions, pluginEmbedder } from '../heatmap/index.js';
import { embedVolume, type VolumeEmbedding } from '../pipeline/index.js';
import { inputViews, loadPlugin, type PluginInput, readPlugin } from '../plugin/index.js';
import type { ManifestCase } from '../task/index.js';
import type { Processed, Rescale } from '../volume/index.js';
import { caseViewVolumes } from './case-volumes.js';
import type { WorkflowProgressSink } from './fit-result.js';

export interface AdaptedOptions {
  /** The plugin folder (a LoRA plugin: plugin.json with `lora`, its factors in plugin.safetensors). */
  dir: string;
  backbone: Backbone;
  /** The plugin's input (how each view's volume becomes backbone slices). */
  input: PluginInput;
  threads?: number;
  device?: Device;
  report?: WorkflowProgressSink;
  /** The rescale of a raw CT file (CT-RATE v1's metadata). */
  rescaleOf?: (path: string) => Rescale | undefined;
  /** Progress stage name (default 'predict'). */
  stage?: string;
  /**
   * Called after case k's pass, with its prepared per-view volumes and their embeddings, for cases
   * where `withMaps(k)` is true: those passes also carry what a heatmap is made from (attention or
   * patch tokens), so a caller makes the case's maps from this pass instead of running another.
   */
  withMaps?: (k: number) => boolean;
  onCase?: (k: number, volumes: Processed[], embeddings: VolumeEmbedding[]) => Promise<void>;
}

/**
 * Raw probabilities [case][label] of a LoRA plugin. Its tokens exist only for its own adapted
 * backbone, so every view of every case runs through the backbone with that view's LoRA baked in
 * (core's `pluginEmbedder`, as heatmaps see it), and the per-view tokens go to the plugin's head:
 * single- and multi-view plugins alike. Nothing is cached: the frozen feature cache would be wrong here.
 */
export async function adaptedPredictions(cases: readonly ManifestCase[], o: AdaptedOptions): Promise<number[][]> {
  const id = { name: o.backbone.card.name, weightHash: o.backbone.weightHash };
  const { card, weights } = await readPlugin(o.dir, id);
  const views = inputViews(o.input, o.backbone.card);
  const plugin = await loadPlugin(o.dir, id, o.threads ? { threads: o.threads } : {});
  // One embedder per view, kept across cases: its ONNX session is built once.
  const embedders = views.map((_, v) =>
    pluginEmbedder(o.backbone, { card, weights, source: o.dir }, v, {
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.device ? { device: o.device } : {}),
    }),
  );
  const stage = o.stage ?? 'predict';
  try {
    const rows: number[][] = [];
    for (const [k, c] of cases.entries()) {
      o.report?.({ stage, done: k, total: cases.length, detail: c.id });
      const maps = o.withMaps?.(k) ?? false;
      // A case lists its images in the card's view order, which is the input's.
      const volumes = await caseViewVolumes(c, o.input, views.length, o.rescaleOf);
      const embeddings: VolumeEmbedding[] = [];
      for (const [v, view] of views.entries())
        embeddings.push(
          await embedVolume(volumes[v]!, view, embedders[v]!, maps ? heatmapEmbedOptions(o.backbone) : {}),
        );
      rows.push(
        (
          await plugin.predictViews(
            embeddings.map((e) => ({ tokens: e.cls.data as Float32Array, slices: e.cls.dims[0]! })),
          )
        ).probabilities,
      );
      if (maps) await o.onCase?.(k, volumes, embeddings);
    }
    o.report?.({ stage, done: cases.length, total: cases.length });
    return rows;
  } finally {
    for (const e of embedders) await e.release();
    await plugin.release();
  }
}
