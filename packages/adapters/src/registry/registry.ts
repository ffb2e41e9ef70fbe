import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '@anymc3d/core';
import type { Backbone, BackboneCard } from '@anymc3d/core/backbone';
import { loadMobileNet, MOBILENET_NAMES, mobilenetCardPath } from '../cnn/index.js';
import {
  CLIP_MODEL_TYPES,
  DINOV3_MODEL_TYPE,
  loadDinov2,
  loadDinov3,
  loadImageTower,
  loadOpenClipTower,
  SIGLIP_MODEL_TYPES,
} from '../vit/index.js';
import { readHfConfig } from '../weights/index.js';
import { BUILTIN_CARDS, NOT_IMPLEMENTED } from './entries.js';

/** A registry entry: its card and how to load its weights folder. */
export interface RegistryEntry {
  card: BackboneCard;
  load(dir: string, card: BackboneCard): Promise<Backbone>;
  /** Weights shipped inside the product: loads without a weights folder. */
  embedded?: () => Promise<Backbone>;
}

const ENTRIES = new Map<string, RegistryEntry>();

const VIT_LOADERS: Record<string, (dir: string, card: BackboneCard) => Promise<Backbone>> = {
  DINOv3ViTModel: loadDinov3,
  CLIPVisionModel: loadImageTower,
  SiglipVisionModel: loadImageTower,
  OpenCLIPTimmViT: loadOpenClipTower,
};
const loadVit = (dir: string, card: BackboneCard) => (VIT_LOADERS[card.architecture] ?? loadDinov2)(dir, card);
for (const card of BUILTIN_CARDS) ENTRIES.set(card.name, { card, load: loadVit });
// The ImageNet MobileNets ship with the product (the demo's embedded default); their cards are
// small JSON files beside the weights, read once here so listing stays synchronous.
for (const name of MOBILENET_NAMES) {
  const card = JSON.parse(readFileSync(mobilenetCardPath(name), 'utf8')) as BackboneCard;
  ENTRIES.set(name, { card, load: () => loadMobileNet(name), embedded: () => loadMobileNet(name) });
}

/** Adds (or replaces) an entry — how other families (CNNs …) join the registry. */
export function registerBackbone(entry: RegistryEntry): void {
  ENTRIES.set(entry.card.name, entry);
}

function wildcard(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

/** Registry cards whose name matches a wildcard pattern (`*`, `?`), sorted by name. */
export function listBackbones(pattern = '*'): BackboneCard[] {
  const re = wildcard(pattern);
  return [...ENTRIES.values()]
    .map((e) => e.card)
    .filter((c) => re.test(c.name))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function entry(name: string): RegistryEntry {
  const found = ENTRIES.get(name);
  if (found) return found;
  const why = NOT_IMPLEMENTED[name];
  if (why) throw new InputError(name, `backbone is not implemented: ${why}`);
  const close = [...ENTRIES.keys()].filter((k) => k.startsWith(name.split('_')[0] ?? name)).slice(0, 6);
  throw new InputError(
    name,
    `unknown backbone${close.length ? ` (similar: ${close.join(', ')})` : ''}; \`anymc3d backbones list\` shows the names`,
  );
}

export function backboneCard(name: string): BackboneCard {
  return entry(name).card;
}

/** The weights root: an explicit path, else $ANYMC3D_WEIGHTS. */
export function weightsRoot(explicit?: string): string | undefined {
  return explicit ?? (process.env.ANYMC3D_WEIGHTS || undefined);
}

function looksLikePath(spec: string): boolean {
  return spec.includes('/') || spec.includes('\\') || spec.startsWith('.') || existsSync(spec);
}

async function folderCard(dir: string): Promise<BackboneCard | undefined> {
  const path = join(dir, 'backbone.json');
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as BackboneCard;
  } catch (error) {
    throw new InputError(path, `not a valid backbone card (${(error as Error).message})`, { cause: error });
  }
}

export interface ResolveOptions {
  /** Folder holding `<name>/` weight folders (default $ANYMC3D_WEIGHTS). */
  weightsRoot?: string;
}

/**
 * A backbone from a registry name (looked up under the weights root) or a folder path. A folder
 * with a `backbone.json` naming a registry entry loads as that entry; otherwise its config.json
 * decides the family.
 */
export async function resolveBackbone(spec: string, options: ResolveOptions = {}): Promise<Backbone> {
  if (looksLikePath(spec)) return loadFolder(resolve(spec));
  const e = entry(spec);
  if (e.embedded && !options.weightsRoot) return e.embedded();
  const root = weightsRoot(options.weightsRoot);
  if (!root) {
    throw new InputError(
      spec,
      `no weights folder: pass the folder path, or set ANYMC3D_WEIGHTS (or --weights-root) to a folder holding ${spec}/${e.card.weightFiles.join(' + ')}`,
    );
  }
  const dir = join(root, spec);
  if (!existsSync(dir))
    throw new InputError(
      dir,
      `folder is missing; download ${e.card.source} (${e.card.weightFiles.join(' + ')}) into it`,
    );
  return e.load(dir, e.card);
}

export async function loadFolder(dir: string): Promise<Backbone> {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new InputError(dir, 'not a folder (expected a backbone folder with config.json + model.safetensors)');
  const card = await folderCard(dir);
  const registered = card ? ENTRIES.get(card.name) : undefined;
  if (card && registered) return registered.load(dir, { ...registered.card, ...card });
  if (existsSync(join(dir, 'open_clip_config.json')) && !existsSync(join(dir, 'config.json'))) {
    return loadOpenClipTower(dir, card);
  }
  if (!existsSync(join(dir, 'config.json'))) {
    throw new InputError(
      dir,
      'config.json is missing (a backbone folder holds config.json + model.safetensors, as downloaded from Hugging Face)',
    );
  }
  const raw = await readHfConfig(join(dir, 'config.json'));
  const modelType = raw.model_type;
  if (modelType === 'dinov2' || modelType === 'dinov2_with_registers') {
    return loadDinov2(dir, card, raw);
  }
  if (modelType === DINOV3_MODEL_TYPE) return loadDinov3(dir, card, raw);
  const towers: readonly unknown[] = [...CLIP_MODEL_TYPES, ...SIGLIP_MODEL_TYPES];
  if (towers.includes(modelType)) return loadImageTower(dir, card, raw);
  const supported = ['dinov2', 'dinov2_with_registers', DINOV3_MODEL_TYPE, ...CLIP_MODEL_TYPES, ...SIGLIP_MODEL_TYPES];
  throw new InputError(
    join(dir, 'config.json'),
    `model_type "${String(modelType)}" is not supported (supported: ${supported.join(', ')}; open_clip timm towers: open_clip_config.json)`,
  );
}
