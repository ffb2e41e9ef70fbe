import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '../graph/index.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import type { PluginCard } from './card.js';
import { pluginInput } from './input.js';

export const PLUGIN_WEIGHTS = 'plugin.safetensors';
export const PLUGIN_CARD = 'plugin.json';

export async function savePlugin(dir: string, card: PluginCard, weights: ReadonlyMap<string, Tensor>): Promise<void> {
  await writeSafetensors(join(dir, PLUGIN_WEIGHTS), weights, {
    format: 'anymc3d-plugin',
    backbone: card.backbone.weightHash,
  });
  await writeFileAtomic(join(dir, PLUGIN_CARD), `${JSON.stringify(card, null, 2)}\n`);
}

/**
 * A plugin's card alone (e.g. to learn which backbone to load), in today's spelling: a card written
 * before windows had one spelling (`{center, width}`; `{name, lo, hi}` in the input record) is read
 * as the `[lo, hi]` it meant. A malformed input record is refused here, before any consumer feeds
 * the plugin from it.
 */
export async function readPluginCard(dir: string): Promise<PluginCard> {
  const cardPath = join(dir, PLUGIN_CARD);
  let card: PluginCard;
  try {
    card = JSON.parse(await readFile(cardPath, 'utf8')) as PluginCard;
  } catch (error) {
    throw new InputError(cardPath, 'cannot read the plugin card (missing or not JSON)', { cause: error });
  }
  if (card.format !== 'anymc3d-plugin') throw new InputError(cardPath, 'not an anymc3d plugin card');
  const windows: unknown[] = Array.isArray(card.windows) ? card.windows : [];
  card.windows = windows.map((w) => {
    if (Array.isArray(w) && w.length === 2 && w.every(Number.isFinite)) return [w[0], w[1]];
    const cw = w as { center?: unknown; width?: unknown } | null;
    if (typeof cw?.center === 'number' && typeof cw.width === 'number' && cw.width > 0)
      return [cw.center - cw.width / 2, cw.center + cw.width / 2];
    throw new InputError(cardPath, `windows must be a list of [lo, hi], got ${JSON.stringify(w)}`);
  });
  if (card.input !== undefined) card.input = pluginInput(card, cardPath);
  else pluginInput(card, cardPath);
  return card;
}

/**
 * Reads a plugin and refuses it unless it was trained on this very backbone (same weight hash):
 * LoRA deltas and a query tuned on other weights would give wrong answers without any error.
 */
export async function readPlugin(
  dir: string,
  backbone: { name: string; weightHash: string },
): Promise<{ card: PluginCard; weights: Map<string, Tensor> }> {
  const cardPath = join(dir, PLUGIN_CARD);
  const card = await readPluginCard(dir);
  if (card.backbone?.weightHash !== backbone.weightHash) {
    throw new InputError(
      cardPath,
      `plugin was trained on backbone ${card.backbone?.name} (weights ${card.backbone?.weightHash?.slice(0, 12)}…), ` +
        `not on ${backbone.name} (weights ${backbone.weightHash.slice(0, 12)}…)`,
    );
  }
  const weights = (await readSafetensors(join(dir, PLUGIN_WEIGHTS))).tensors();
  return { card, weights };
}
