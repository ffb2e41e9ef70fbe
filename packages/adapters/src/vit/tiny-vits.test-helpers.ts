import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backbone, buildBackboneGraph } from '@anymc3d/core/backbone';
import { OnnxSession, type Tensor, toOnnx } from '@anymc3d/core/graph';
import { maxAbsDifference, randomNormal } from '@anymc3d/core/testing';
import { expect } from 'vitest';
import { loadFolder } from '../registry/index.js';
import { TOWER_FIXTURES, towerFixture, writeTinyDinov2, writeTinyDinov3 } from '../testing/index.js';

/** Tests that compare two builds of every ViT family: one tiny model each, in a folder `cleanUp` removes. */
const dirs: string[] = [];

export async function cleanUp(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}

export async function tinyVitFolder(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** DINOv2 with a register, DINOv3 (RoPE), and the CLIP, SigLIP and open_clip tower fixtures. */
export async function tinyVits(): Promise<{ name: string; backbone: Backbone }[]> {
  const dir = await tinyVitFolder('tiny-vits-');
  await writeTinyDinov2(join(dir, 'dinov2'), { registers: 1 });
  await writeTinyDinov3(join(dir, 'dinov3'));
  const out = [
    { name: 'dinov2 + register', backbone: await loadFolder(join(dir, 'dinov2')) },
    { name: 'dinov3 (RoPE)', backbone: await loadFolder(join(dir, 'dinov3')) },
  ];
  for (const fixture of TOWER_FIXTURES) out.push({ name: fixture, backbone: await loadFolder(towerFixture(fixture)) });
  return out;
}

/** Runs a graph with pixels and (for LoRA) B ≠ 0, so the adapted path is the one compared. */
export async function runWithLora(
  graph: ReturnType<typeof buildBackboneGraph>['graph'],
  pixels: Tensor,
  extra: Record<string, Tensor> = {},
) {
  const feeds: Record<string, Tensor> = { pixels, ...extra };
  let seed = 100;
  for (const p of graph.params.values())
    if (p.role === 'trainable') feeds[p.name] = randomNormal([...p.value.dims], seed++, 0.2);
  const session = await OnnxSession.create(toOnnx(graph), { threads: 1 });
  const out = await session.run(feeds);
  await session.release();
  return out;
}

/**
 * Two builds of one network compute the same thing: both run on the same pixels (and LoRA), each of
 * `outputs` within 1e-5 of the reference's.
 */
export async function expectSameOutputs(
  reference: ReturnType<typeof buildBackboneGraph>['graph'],
  candidate: ReturnType<typeof buildBackboneGraph>['graph'],
  pixels: Tensor,
  outputs: readonly string[],
  label: string,
): Promise<void> {
  const a = await runWithLora(reference, pixels);
  const b = await runWithLora(candidate, pixels);
  for (const output of outputs) {
    const worst = maxAbsDifference(b[output]!.data as Float32Array, a[output]!.data as Float32Array);
    expect(worst, `${label} ${output}`).toBeLessThan(1e-5);
  }
}
