import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters/registry';
import type { Backbone } from '@anymc3d/core/backbone';
import { DEVICES } from '@anymc3d/core/graph';
import { type Manifest, type ManifestOptions, readManifest, readTaskCard } from '@anymc3d/core/task';
import { InputError } from '@anymc3d/core/util';
import type { Argv } from 'yargs';
import type { JobBackbone } from '../queue/jobs.js';
import type { PrecisionFlag } from './precision-flag.js';

/** The global flags every command sees (cli.ts). */
export interface GlobalFlags {
  quiet: boolean;
  progress: boolean;
}

/** What features, train and predict share: the task, its manifest, the backbone, where outputs go. */
export interface TaskFlags extends GlobalFlags {
  task: string;
  manifest: string;
  backbone: string;
  output: string;
  device: string;
  'input-size'?: number;
  'weights-root'?: string;
  threads?: number;
}

export function taskFlags<T>(y: Argv<T>) {
  return y
    .option('task', { alias: 't', type: 'string', demandOption: true, describe: 'Task card (JSON)' })
    .option('manifest', {
      alias: 'm',
      type: 'string',
      demandOption: true,
      describe: 'Manifest (CSV or JSON) of cases, splits, labels',
    })
    .option('backbone', {
      alias: 'b',
      type: 'string',
      demandOption: true,
      describe: 'Backbone registry name or weights folder',
    })
    .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'Output folder' })
    .option('device', {
      alias: 'd',
      type: 'string',
      default: 'cpu',
      choices: [...DEVICES],
      describe: 'Where the backbone runs',
    })
    .option('input-size', {
      type: 'number',
      describe: "Slice side fed to the backbone (default: the card's inputSize)",
    })
    .option('weights-root', {
      type: 'string',
      describe: 'Folder holding <name>/ weight folders (default $ANYMC3D_WEIGHTS)',
    })
    .option('threads', { type: 'number', describe: 'ONNX Runtime threads (default: all cores)' });
}

export interface TaskInputs {
  manifest: Manifest;
  backbone: Backbone;
  inputSize: [number, number];
  outDir: string;
  cacheRoot: string;
}

/** Card, manifest (every file checked) and backbone, all read before any heavy work. */
export async function loadTaskInputs(a: TaskFlags, manifestOptions: ManifestOptions = {}): Promise<TaskInputs> {
  const card = await readTaskCard(a.task);
  const manifest = await readManifest(a.manifest, card, manifestOptions);
  const backbone = await resolveBackbone(a.backbone, a['weights-root'] ? { weightsRoot: a['weights-root'] } : {});
  const size = a['input-size'];
  if (size !== undefined && !(Number.isInteger(size) && size > 0))
    throw new InputError('--input-size', `must be a whole number of pixels, got ${size}`);
  const outDir = resolve(a.output);
  return {
    manifest,
    backbone,
    inputSize: size ? [size, size] : [card.inputSize.height, card.inputSize.width],
    outDir,
    cacheRoot: process.env.ANYMC3D_CACHE ? resolve(process.env.ANYMC3D_CACHE) : resolve(outDir, 'cache'),
  };
}

/** The backbone as a worker finds it: the --backbone given (a folder made absolute), --weights-root, its weights, --precision. */
export function jobBackbone(a: TaskFlags & Partial<PrecisionFlag>, backbone: Backbone): JobBackbone {
  const spec = existsSync(a.backbone) ? resolve(a.backbone) : a.backbone;
  return {
    spec,
    ...(a['weights-root'] || process.env.ANYMC3D_WEIGHTS
      ? { weightsRoot: resolve((a['weights-root'] || process.env.ANYMC3D_WEIGHTS)!) }
      : {}),
    weightHash: backbone.weightHash,
    ...(a.precision ? { precision: a.precision } : {}),
  };
}

/** Comma-separated whole numbers > 0 (e.g. candidate step counts). */
/** Comma-separated positive numbers (learning rates): `3e-3,1e-2`. */
export function parseRates(text: string, flag: string): number[] {
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.some((s) => !(Number.isFinite(s) && s > 0)))
    throw new InputError(flag, `must be numbers > 0 separated by commas, got ${text}`);
  return values;
}

export function parseCounts(text: string, flag: string): number[] {
  const values = text.split(',').map(Number);
  if (values.length === 0 || values.some((s) => !(Number.isInteger(s) && s > 0)))
    throw new InputError(flag, `must be whole numbers > 0 separated by commas, got ${text}`);
  return values;
}
