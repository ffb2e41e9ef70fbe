import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Tensor, tensor } from '../graph/index.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { InputError } from '../util/errors.js';
import { AdamW } from './adamw.js';
import type { TrainState } from './loop.js';

export const CHECKPOINT = 'checkpoint.safetensors';

/** Params and optimiser moments in one file written atomically, so a kill leaves the last whole step. */
export async function saveCheckpoint(dir: string, state: TrainState, runKey: string): Promise<void> {
  const all = new Map<string, Tensor>();
  for (const [name, p] of state.params) {
    all.set(`param/${name}`, p);
    const m = state.optimizer.state.m.get(name);
    const v = state.optimizer.state.v.get(name);
    if (m && v) {
      all.set(`adam.m/${name}`, tensor('float32', p.dims, m));
      all.set(`adam.v/${name}`, tensor('float32', p.dims, v));
    }
  }
  await writeSafetensors(join(dir, CHECKPOINT), all, { step: String(state.step), run: runKey });
}

/**
 * Restores `state` from `dir`'s checkpoint when there is one for the same run (same options and
 * data); returns whether it did.
 */
export async function resumeCheckpoint(dir: string, state: TrainState, runKey: string): Promise<boolean> {
  const path = join(dir, CHECKPOINT);
  if (!existsSync(path)) return false;
  const file = await readSafetensors(path);
  const { metadata } = file;
  const tensors = file.tensors();
  if (metadata.run !== runKey) {
    throw new InputError(
      path,
      'checkpoint belongs to a run with other options or data; remove it or use another output folder',
    );
  }
  const optimizer = new AdamW();
  for (const [name, p] of state.params) {
    const saved = tensors.get(`param/${name}`);
    if (!saved || saved.data.length !== p.data.length) throw new InputError(path, `checkpoint lacks parameter ${name}`);
    (p.data as Float32Array).set(saved.data as Float32Array);
    const m = tensors.get(`adam.m/${name}`);
    const v = tensors.get(`adam.v/${name}`);
    if (m && v) {
      optimizer.state.m.set(name, Float32Array.from(m.data as Float32Array));
      optimizer.state.v.set(name, Float32Array.from(v.data as Float32Array));
    }
  }
  optimizer.state.step = Number(metadata.step);
  state.optimizer.state = optimizer.state;
  state.step = Number(metadata.step);
  return true;
}
