import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { resolveBackbone, weightsRoot } from '@anymc3d/adapters';
import { selectThresholds, type ThresholdCriterion } from '@anymc3d/core/metrics';
import {
  loadPlugin,
  PLUGIN_CARD,
  PLUGIN_WEIGHTS,
  type PluginCard,
  type PluginInput,
  pluginInput,
} from '@anymc3d/core/plugin';
import { InputError, writeFileAtomic } from '@anymc3d/core/util';
import type { Vec3 } from '@anymc3d/core/volume';
import { CT_RATE_LABELS } from './labels.js';
import { challengeRecipe } from './preprocess.js';
import { readGroundTruth, readResults, scoreResults } from './score.js';
import {
  BACKBONE_DIR,
  checkChallengeCard,
  DEFAULT_SPACING,
  loadChallengeModel,
  PLUGIN_DIR,
  SETTINGS_FILE,
  type Vlm3dSettings,
} from './weights.js';
import { zipFolder } from './zip-folder.js';

export interface PackageOptions {
  /** A backbone folder (config.json + model.safetensors [+ backbone.json]). */
  backbone: string;
  /** A plugin folder trained on that backbone with the 18 CT-RATE labels. */
  plugin: string;
  /**
   * The weights folder to create (must not exist, or be empty), or a `.zip` to upload as the
   * 2026 platform's weights.zip (the same files at the archive's root; it must not exist).
   */
  output: string;
  spacing?: Vec3;
  orientation?: string;
  /**
   * Choose each label's threshold on validation: `vlm3d run --uncalibrated` results on the
   * validation volumes and their ground truth. Without it the plugin card's thresholds are kept.
   */
  calibrate?: { results: string; gt: string; criterion: ThresholdCriterion };
  log?: (line: string) => void;
}

export interface PackagedWeights {
  /** How the container will prepare each volume (plugin.json input). */
  recipe: PluginInput;
  thresholds: number[];
  /** Labels whose validation truth had one class only (threshold kept from the card). */
  uncalibrated: string[];
}

/** Per-label thresholds chosen on validation from uncalibrated results; null where one class only. */
export async function chooseThresholds(
  results: string,
  gt: string,
  criterion: ThresholdCriterion,
): Promise<(number | null)[]> {
  const scored = scoreResults(await readResults(results), results, await readGroundTruth(gt));
  return selectThresholds(scored.data, criterion);
}

/**
 * The folder whose files make up the backbone: the path given, or a registry name's folder under
 * the weights root ($ANYMC3D_WEIGHTS); undefined for a backbone embedded in the product.
 */
function backboneSource(spec: string): string | undefined {
  if (existsSync(spec)) return resolve(spec);
  const root = weightsRoot();
  return root && existsSync(join(root, spec)) ? join(root, spec) : undefined;
}

/** The preprocessing `vlm3d train` recorded beside the plugin, if any. */
async function trainedSettings(pluginDir: string): Promise<Vlm3dSettings | undefined> {
  const path = join(pluginDir, SETTINGS_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Vlm3dSettings;
  } catch (error) {
    throw new InputError(path, `not JSON (${(error as Error).message})`, { cause: error });
  }
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    if (!(await stat(dir)).isDirectory()) return false;
    return (await readdir(dir)).length === 0;
  } catch {
    return true;
  }
}

/**
 * Builds the weights folder to upload: backbone/ (copied), plugin/ (copied, thresholds set),
 * vlm3d.json (preprocessing). Written beside the target and renamed into place, then loaded
 * back exactly as the container will load it.
 */
export async function packageWeights(options: PackageOptions): Promise<PackagedWeights> {
  const log = options.log ?? (() => {});
  const output = resolve(options.output);
  const zipped = output.toLowerCase().endsWith('.zip');
  if (zipped ? existsSync(output) : !(await isEmptyOrMissing(output)))
    throw new InputError(output, zipped ? 'already exists' : 'already exists and is not empty');
  const backbone = await resolveBackbone(options.backbone);
  const backboneFolder = backboneSource(options.backbone);
  const plugin = await loadPlugin(options.plugin, backbone);
  const card: PluginCard = { ...plugin.card, thresholds: [...plugin.card.thresholds] };
  await plugin.release();
  const uncalibrated: string[] = [];
  if (options.calibrate) {
    const chosen = await chooseThresholds(options.calibrate.results, options.calibrate.gt, options.calibrate.criterion);
    chosen.forEach((t, l) => {
      if (t === null) uncalibrated.push(CT_RATE_LABELS[l]!);
      else card.thresholds[l] = t;
    });
    log(
      `thresholds (${options.calibrate.criterion} on ${options.calibrate.gt}): ` +
        CT_RATE_LABELS.map((l, i) => `${l} ${card.thresholds[i]!.toFixed(3)}`).join(', '),
    );
  }
  const problems = checkChallengeCard(card);
  if (problems.length > 0) throw new InputError(join(options.plugin, PLUGIN_CARD), problems.join('; '));
  // The recipe travels in plugin.json: as trained (its input, or the vlm3d.json beside an older
  // plugin), else the flags or the defaults for a plugin that recorded neither.
  const trained = challengeRecipe(
    pluginInput(card, join(options.plugin, PLUGIN_CARD)),
    await trainedSettings(options.plugin),
  );
  const recorded =
    trained.orientation && trained.spacing ? { orientation: trained.orientation, spacing: trained.spacing } : undefined;
  const orientation = options.orientation?.toUpperCase() ?? recorded?.orientation ?? 'LPS';
  const spacing = options.spacing ?? (recorded?.spacing as Vec3 | undefined) ?? DEFAULT_SPACING;
  if (
    recorded &&
    (orientation !== recorded.orientation.toUpperCase() || spacing.some((x, i) => x !== recorded.spacing[i]))
  ) {
    throw new InputError(
      join(options.plugin, PLUGIN_CARD),
      `the plugin was trained with ${recorded.orientation} at ${recorded.spacing.join('×')} mm; ` +
        `packaging it for ${orientation} at ${spacing.join('×')} mm would feed it other slices`,
    );
  }
  const recipe: PluginInput = { ...trained, orientation, spacing: [...spacing] };
  card.input = recipe;
  const staging = join(dirname(output), `.${basename(output)}.partial-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  try {
    await mkdir(join(staging, BACKBONE_DIR), { recursive: true });
    await mkdir(join(staging, PLUGIN_DIR), { recursive: true });
    if (backboneFolder) {
      for (const entry of await readdir(backboneFolder, { withFileTypes: true })) {
        if (entry.isFile()) await copyFile(join(backboneFolder, entry.name), join(staging, BACKBONE_DIR, entry.name));
      }
    } else {
      // A backbone that ships inside the product (the ImageNet MobileNets): its card names the
      // registry entry, whose weights are in the image already; the load-back below checks the hash.
      await writeFileAtomic(
        join(staging, BACKBONE_DIR, 'backbone.json'),
        `${JSON.stringify(backbone.card, null, 2)}\n`,
      );
    }
    await copyFile(join(options.plugin, PLUGIN_WEIGHTS), join(staging, PLUGIN_DIR, PLUGIN_WEIGHTS));
    await writeFileAtomic(join(staging, PLUGIN_DIR, PLUGIN_CARD), `${JSON.stringify(card, null, 2)}\n`);
    // Load it back as the container will: a folder that does not load is never handed over.
    const check = await loadChallengeModel(staging);
    await check.plugin.release();
    if (zipped) {
      await zipFolder(staging, output);
      await rm(staging, { recursive: true, force: true });
    } else {
      await rm(output, { recursive: true, force: true });
      await rename(staging, output);
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  log(
    `wrote ${output}: ${BACKBONE_DIR}/ (${backbone.card.name}), ${PLUGIN_DIR}/ (${card.task}; recipe: ` +
      `CT in HU, ${orientation}, ${spacing.join('×')} mm)` +
      (zipped ? ' at the archive root (upload it as weights.zip; the platform mounts it at /weights)' : ''),
  );
  return { recipe, thresholds: card.thresholds, uncalibrated };
}
