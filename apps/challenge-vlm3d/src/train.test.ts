import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import type { PluginCard } from '@anymc3d/core/plugin';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vlm3d } from './cli.test-helpers.js';
import { CT_RATE_LABELS } from './labels.js';
import type { ResultsDocument } from './results.js';
import { validateResults } from './results.js';
import { ctRateReplica, flatInput } from './train.test-helpers.js';
import { chestInput } from './weights.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vlm3d-train-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('vlm3d train → package → run', () => {
  it('trains the 18-label plugin from a CT-RATE folder, chooses thresholds on val, and the packaged weights run', async () => {
    const ctRate = join(root, 'ct-rate');
    const { valid } = await ctRateReplica(ctRate);
    const backbone = join(root, 'backbone');
    await writeTinyDinov2(backbone, { name: 'tiny_dinov2', hiddenSize: 32, layers: 1, heads: 2, imageSize: 16 });
    const plugin = join(root, 'plugin');
    const cache = join(root, 'cache');
    const args = ['train', '--ct-rate', ctRate, '--backbone', backbone, '-o', plugin, '--cache', cache];
    const t = await vlm3d([...args, '--steps', '4', '--batch', '4', '--threads', '1']);
    expect(t.code, t.err).toBe(0);
    expect(t.err).toMatch(/train: 18\/18 embedded/);
    expect(t.err).toMatch(/val: 2\/2 embedded/);
    const card = JSON.parse(await readFile(join(plugin, 'plugin.json'), 'utf8')) as PluginCard;
    expect(card.labels).toEqual([...CT_RATE_LABELS]);
    expect(card.inputSize).toEqual([16, 16]);
    // The input run and package read: axial HU slices through the chest windows, no normalisation.
    expect(card.input).toEqual(chestInput(16));
    expect(card.training.cases).toBe(18);
    expect(card.thresholds).toHaveLength(18);
    for (const x of card.thresholds) expect(x > 0 && x < 1).toBe(true);
    // Labels with both classes in val got a threshold chosen there (not the 0.5 default).
    expect(card.thresholds.some((x) => x !== 0.5)).toBe(true);

    // A spacing other than the one trained with is refused when packaging.
    const refused = await vlm3d([
      'package',
      '--backbone',
      backbone,
      '--plugin',
      plugin,
      '-o',
      join(root, 'w0'),
      '--spacing',
      '1,1,1',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('trained with LPS at 1.5×1.5×3 mm');

    const weights = join(root, 'weights');
    const p = await vlm3d(['package', '--backbone', backbone, '--plugin', plugin, '-o', weights]);
    expect(p.code, p.err).toBe(0);
    const input = await flatInput(ctRate, valid, join(root, 'input'));
    const output = join(root, 'output');
    const r = await vlm3d(['run', '-i', input, '-o', output, '--weights', weights, '-q']);
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(await readFile(join(output, 'results.json'), 'utf8')) as ResultsDocument;
    expect(validateResults(doc, valid)).toEqual([]);
  });
});
