import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import { availableDevices } from '@anymc3d/core/graph';
import { type PluginCard, readPlugin } from '@anymc3d/core/plugin';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vlm3d } from './cli.test-helpers.js';
import { CT_RATE_LABELS } from './labels.js';
import { type ResultsDocument, validateResults } from './results.js';
import { ctRateReplica, flatInput } from './train.test-helpers.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vlm3d-train-lora-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('vlm3d train --mode lora → package → run', () => {
  it('trains LoRA + query + head through the backbone, resumes, and the packaged LoRA plugin runs', async () => {
    const ctRate = join(root, 'ct-rate');
    const { valid } = await ctRateReplica(ctRate);
    const backbone = join(root, 'backbone');
    await writeTinyDinov2(backbone, { name: 'tiny_dinov2', hiddenSize: 32, layers: 1, heads: 2, imageSize: 16 });
    const plugin = join(root, 'plugin');
    const base = ['train', '--ct-rate', ctRate, '--backbone', backbone, '-o', plugin, '--mode', 'lora'];

    // The other mode's flags are refused, not ignored.
    const wrong = await vlm3d([...base, '--steps', '3']);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('--steps is not for --mode lora');
    expect((await vlm3d([...base, '--cache', join(root, 'cache')])).err).toContain('--cache is not for --mode lora');

    // --device reaches the LoRA trainer's sessions: without a CUDA build it stops before any step, saying so.
    if (!availableDevices().includes('cuda')) {
      const gpu = await vlm3d([...base, '--limit', '4', '--lora-steps', '3', '--batch', '2', '--device', 'cuda']);
      expect(gpu.code).not.toBe(0);
      expect(gpu.err).toMatch(/device "cuda" is not available/);
      expect(gpu.err).not.toMatch(/step \d+\/3/);
    }

    // 4 train volumes (12 slices each at 3 mm) in recompute chunks of 5 slices, 2 val volumes.
    const args = [...base, '--limit', '4', '--lora-steps', '3', '--batch', '2', '--lr-lora', '1e-2', '--chunk', '5'];
    const t = await vlm3d([...args, '--threads', '1']);
    expect(t.code, t.err).toBe(0);
    expect(t.err).toMatch(/train lora: 3\/3 loss \d/);
    // The one LoRA fit workflow: candidates along one schedule scored on val, the best kept.
    expect(t.err).toMatch(
      /lora training: [\d.]+ s; val: 3 steps AUC=[\d.n/a]+ → 3 steps; thresholds \(crg on 2 val cases\)[^;]*; curve .*training-curve\.png/,
    );
    const card = JSON.parse(await readFile(join(plugin, 'plugin.json'), 'utf8')) as PluginCard;
    expect(card.labels).toEqual([...CT_RATE_LABELS]);
    expect(card.lora?.rank).toBe(8);
    expect(card.lora?.alpha).toBe(16);
    expect(card.lora?.targets).toEqual(expect.arrayContaining(['patch_embed']));
    expect(card.lora!.targets.length).toBeGreaterThan(1);
    expect(card.parameters.lora).toBeGreaterThan(0);
    expect(card.training).toMatchObject({ cases: 4, steps: 3 });
    // Trained through core's one case source with the method's augmentation, recorded in the recipe.
    expect(card.input?.augmentation).toMatchObject({ method: 'nnunet-3d', seed: 0 });
    expect(card.thresholds).toHaveLength(18);
    for (const x of card.thresholds) expect(x > 0 && x < 1).toBe(true);

    // LoRA's B factors start at zero (the backbone unchanged at step 0): trained, they are not.
    const { weights } = await readPlugin(plugin, card.backbone);
    const bs = [...weights].filter(([k]) => k.startsWith('lora.') && k.endsWith('.B'));
    expect(bs.length).toBe(card.lora!.targets.length);
    for (const [name, b] of bs)
      expect(
        (b.data as Float32Array).some((v) => v !== 0),
        name,
      ).toBe(true);

    // The same command again finds the candidate already trained: no step retrained, thresholds chosen again.
    const again = await vlm3d([...args, '--threads', '1']);
    expect(again.code, again.err).toBe(0);
    expect(again.err).not.toMatch(/train lora: \d/);
    expect(again.err).toMatch(/val: 3 steps AUC=/);
    const reread = await readPlugin(plugin, card.backbone);
    for (const [name, b] of bs) expect(reread.weights.get(name)!.data, name).toEqual(b.data);

    const packaged = join(root, 'weights');
    const p = await vlm3d(['package', '--backbone', backbone, '--plugin', plugin, '-o', packaged]);
    expect(p.code, p.err).toBe(0);
    const input = await flatInput(ctRate, valid, join(root, 'input'));
    const output = join(root, 'output');
    const r = await vlm3d(['run', '-i', input, '-o', output, '--weights', packaged, '--threads', '1']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('LoRA r8');
    const doc = JSON.parse(await readFile(join(output, 'results.json'), 'utf8')) as ResultsDocument;
    expect(validateResults(doc, valid)).toEqual([]);
  });
});
