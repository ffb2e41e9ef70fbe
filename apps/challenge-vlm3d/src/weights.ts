import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters';
import type { Backbone } from '@anymc3d/core/backbone';
import {
  type LoadedPlugin,
  type LoadPluginOptions,
  loadPlugin,
  PLUGIN_CARD,
  type PluginCard,
  type PluginInput,
  pluginInput,
} from '@anymc3d/core/plugin';
import { InputError } from '@anymc3d/core/util';
import { CHEST_CT_WINDOWS, type Vec3 } from '@anymc3d/core/volume';
import { CT_RATE_LABELS } from './labels.js';
import { challengeRecipe } from './preprocess.js';

/**
 * The weights folder mounted at /weights (never inside the image):
 *
 *   backbone/   a backbone folder (config.json + model.safetensors + backbone.json)
 *   plugin/     plugin.json + plugin.safetensors, trained on that backbone, the 18 CT-RATE labels;
 *               plugin.json's `input` is the whole recipe (HU, orientation, spacing, slices, windows)
 *   vlm3d.json  only in folders packaged before the recipe moved into plugin.json: orientation and spacing
 */
export const BACKBONE_DIR = 'backbone';
export const PLUGIN_DIR = 'plugin';
export const SETTINGS_FILE = 'vlm3d.json';

/** The former `vlm3d.json`: orientation and spacing kept beside a plugin whose input did not record them. */
export interface Vlm3dSettings {
  format: 'anymc3d-vlm3d';
  version: 1;
  /** Canonical orientation the volume is permuted/flipped to before slicing. */
  orientation: string;
  /** Voxel spacing (mm, x y z) the volume is resampled to before slicing. */
  spacing: Vec3;
  backbone: { name: string; weightHash: string };
}

/** 1.5 mm in plane (the slices are resized to the backbone input anyway), 3 mm between slices. */
export const DEFAULT_SPACING: Vec3 = [1.5, 1.5, 3];

/** The chest window set as the plugin card records windows ([lo, hi]). */
export const CHEST_WINDOWS = CHEST_CT_WINDOWS.map(([lo, hi]): [number, number] => [lo, hi]);

/**
 * The challenge plugin's recipe (recorded in plugin.json): CT in HU, reoriented to LPS, resampled to
 * `spacing`, axial slices through the chest window set.
 */
export function chestInput(size: number, spacing: Vec3 = DEFAULT_SPACING): PluginInput {
  return {
    views: [{ name: 'axial', axis: 'axial' }],
    size: [size, size],
    // As taskInput spells a card's windows, so this is the ct-rate catalogue card's recipe exactly.
    channels: { windows: CHEST_WINDOWS },
    normalisation: null,
    intensity: 'ct-hu',
    orientation: 'LPS',
    spacing: [...spacing],
  };
}

/**
 * Everything the challenge needs from a plugin card, as problems (empty when usable): the 18
 * CT-RATE labels in the scorer's order and spelling, multi-label, one view, the chest window set,
 * and a threshold in (0,1) per label.
 */
export function checkChallengeCard(card: PluginCard): string[] {
  const problems: string[] = [];
  const labels = card.labels ?? [];
  if (labels.length !== CT_RATE_LABELS.length || labels.some((l, i) => l !== CT_RATE_LABELS[i])) {
    const wrong = labels.findIndex((l, i) => l !== CT_RATE_LABELS[i]);
    problems.push(
      `labels must be the 18 CT-RATE labels in CT-RATE's order (${labels.length} given` +
        `${wrong >= 0 ? `; label ${wrong + 1} is "${labels[wrong]}", expected "${CT_RATE_LABELS[wrong] ?? '(none)'}"` : ''})`,
    );
  }
  if (card.kind !== 'multilabel') problems.push(`kind must be "multilabel", got "${card.kind}"`);
  if ((card.views ?? []).length !== 1) problems.push(`one view expected, got ${(card.views ?? []).length}`);
  // What the plugin reads (its recorded input, or what its windows meant before the record): HU through the chest set.
  const input = pluginInput({ ...card, windows: card.windows ?? [], views: card.views ?? [] });
  const channels = 'windows' in input.channels ? input.channels.windows : [];
  if (
    channels.length !== CHEST_CT_WINDOWS.length ||
    channels.some(([lo, hi], i) => lo !== CHEST_CT_WINDOWS[i]![0] || hi !== CHEST_CT_WINDOWS[i]![1])
  ) {
    problems.push(`windows must be the chest CT set ${JSON.stringify(CHEST_WINDOWS)}`);
  }
  if (input.normalisation !== null) problems.push('the input must be CT in HU, without MRI normalisation');
  const t = card.thresholds ?? [];
  if (t.length !== labels.length || t.some((x) => !(typeof x === 'number' && x > 0 && x < 1))) {
    problems.push('thresholds must give one number in (0,1) per label');
  }
  return problems;
}

function checkSettings(raw: unknown, path: string): Vlm3dSettings {
  const s = raw as Partial<Vlm3dSettings> | null;
  if (s?.format !== 'anymc3d-vlm3d' || s.version !== 1) throw new InputError(path, 'not a vlm3d.json (format/version)');
  if (typeof s.orientation !== 'string' || s.orientation.length !== 3)
    throw new InputError(path, '"orientation" must be a three-letter code such as "LPS"');
  if (!Array.isArray(s.spacing) || s.spacing.length !== 3 || s.spacing.some((x) => !(typeof x === 'number' && x > 0)))
    throw new InputError(path, '"spacing" must be three positive numbers (mm)');
  if (typeof s.backbone?.weightHash !== 'string') throw new InputError(path, '"backbone.weightHash" is missing');
  return s as Vlm3dSettings;
}

export interface ChallengeModel {
  backbone: Backbone;
  plugin: LoadedPlugin;
  /** How a volume becomes this plugin's input: plugin.json's recipe (orientation and spacing from vlm3d.json for older folders). */
  recipe: PluginInput;
}

/** The legacy vlm3d.json of a folder, if it has one, checked against the backbone. */
async function legacySettings(dir: string, backbone: Backbone): Promise<Vlm3dSettings | undefined> {
  const path = join(dir, SETTINGS_FILE);
  if (!existsSync(path)) return undefined;
  let settings: Vlm3dSettings;
  try {
    settings = checkSettings(JSON.parse(await readFile(path, 'utf8')), path);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(path, `cannot read the settings (${(error as Error).message})`, { cause: error });
  }
  if (settings.backbone.weightHash !== backbone.weightHash)
    throw new InputError(path, `written for backbone weights ${settings.backbone.weightHash.slice(0, 12)}…, not these`);
  return settings;
}

/**
 * Loads the weights folder, refusing anything that would give a silently wrong submission: a
 * plugin for other backbone weights, other labels, other windows, a recipe without orientation and
 * spacing (a folder packaged before the recipe moved into plugin.json needs its vlm3d.json), or a
 * vlm3d.json that disagrees with the recipe.
 */
export async function loadChallengeModel(dir: string, options: LoadPluginOptions = {}): Promise<ChallengeModel> {
  for (const part of [BACKBONE_DIR, PLUGIN_DIR]) {
    if (!existsSync(join(dir, part)))
      throw new InputError(join(dir, part), `missing: a weights folder holds ${BACKBONE_DIR}/ and ${PLUGIN_DIR}/`);
  }
  const backbone = await resolveBackbone(join(dir, BACKBONE_DIR));
  const plugin = await loadPlugin(join(dir, PLUGIN_DIR), backbone, options);
  try {
    const cardPath = join(dir, PLUGIN_DIR, PLUGIN_CARD);
    const problems = checkChallengeCard(plugin.card);
    if (problems.length > 0) throw new InputError(cardPath, problems.join('; '));
    const input = pluginInput(plugin.card, cardPath);
    const settings = await legacySettings(dir, backbone);
    const recipe = challengeRecipe(input, settings);
    if (!recipe.orientation || !recipe.spacing)
      throw new InputError(
        cardPath,
        `input records no orientation and spacing, and the folder has no ${SETTINGS_FILE}: repackage it with the ${SETTINGS_FILE} it was trained with, or retrain`,
      );
    if (
      settings &&
      (settings.orientation.toUpperCase() !== recipe.orientation.toUpperCase() ||
        settings.spacing.some((x, a) => x !== recipe.spacing![a]))
    )
      throw new InputError(
        join(dir, SETTINGS_FILE),
        `says ${settings.orientation} at ${settings.spacing.join('×')} mm, but the plugin was trained with ` +
          `${recipe.orientation} at ${recipe.spacing.join('×')} mm (plugin.json input): remove it`,
      );
    return { backbone, plugin, recipe };
  } catch (error) {
    await plugin.release();
    throw error;
  }
}
