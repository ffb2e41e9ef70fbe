import type { Precision } from '../graph/index.js';
import type { PluginInput } from './input.js';
import type { ClassificationLoss } from './losses.js';
import type { TaskKind } from './plugin-graph.js';

/** What the user says about a task when training (the CLI reads it from a task file). */
export interface TaskCard {
  task: string;
  kind: TaskKind;
  loss?: ClassificationLoss;
  /** Labels in output order. */
  labels: string[];
  /** View names (one for a single-view task). */
  views: string[];
  axis: 'axial' | 'coronal' | 'sagittal';
  /** Intensity windows [lo, hi] mapped to the three input channels (cards written before read `{center, width}`). */
  windows: [number, number][];
  inputSize: [number, number];
  /** Decision thresholds per label (default 0.5). */
  thresholds?: number[];
  /**
   * How a volume becomes this plugin's backbone input (`pluginTaskOf` gives it from a task card).
   * Without it, `pluginInput` derives it from `views`, `axis` and `windows`, which cannot say that
   * a view such as "t2" has its own axis or that MRI is z-scored.
   */
  input?: PluginInput;
}

/** The backbone a plugin was trained on. */
export interface PluginBackbone {
  name: string;
  weightHash: string;
  /**
   * The arithmetic of the frozen tokens its head was trained on, when not fp32 (`train --precision
   * int8`): `predict` and `heatmap` then compute tokens the same way unless told otherwise.
   */
  precision?: Precision;
}

/** A card's backbone record: fp32 is left unsaid, so fp32 cards read as they did before precision was recorded. */
export function pluginBackbone(
  backbone: { card: { name: string }; weightHash: string },
  precision: Precision = 'fp32',
): PluginBackbone {
  return {
    name: backbone.card.name,
    weightHash: backbone.weightHash,
    ...(precision !== 'fp32' ? { precision } : {}),
  };
}

/**
 * The arithmetic a plugin's frozen backbone is served in: the one asked for, else the one its
 * head's tokens were trained in (fp32 where the card says none). A LoRA plugin's adapted backbone
 * runs fp32.
 */
export function servedPrecision(card: Pick<PluginCard, 'lora' | 'backbone'>, asked?: Precision): Precision {
  if (asked) return asked;
  return card.lora ? 'fp32' : (card.backbone?.precision ?? 'fp32');
}

/**
 * `plugin.json`: everything needed to use the plugin, and where it came from. `input` is written by
 * every trainer; cards written before it existed lack it (read it with `pluginInput`).
 */
export interface PluginCard extends Required<Omit<TaskCard, 'input'>>, Pick<TaskCard, 'input'> {
  format: 'anymc3d-plugin';
  version: 1;
  dim: number;
  backbone: PluginBackbone;
  /** Null for a plugin trained on cached frozen tokens (no LoRA). */
  lora: { rank: number; alpha: number; targets: string[] } | null;
  parameters: { lora: number; head: number; total: number };
  training: { cases: number; data?: string; steps: number; options: Record<string, number | boolean> };
  metrics: Record<string, number>;
}
