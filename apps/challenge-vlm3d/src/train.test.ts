import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import type { PluginCard } from '@anymc3d/core/plugin';
import { writeVolume } from '@anymc3d/core/volume';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runVlm3d } from './cli.js';
import { CT_RATE_LABELS } from './labels.js';
import type { ResultsDocument } from './results.js';
import { validateResults } from './results.js';
import { chestVolume } from './run.test-helpers.js';
import { chestInput } from './weights.js';

let root: string;

async function vlm3d(argv: string[]) {
  let out = '';
  let err = '';
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    const code = await runVlm3d(argv, (t) => {
      out += t;
    });
    return { code, out, err };
  } finally {
    e.mockRestore();
  }
}

/** Hugging Face's CT-RATE layout with 20 train patients and 3 validation volumes of tiny chests. */
async function ctRateReplica(dir: string): Promise<{ valid: string[] }> {
  const dataset = join(dir, 'dataset');
  await mkdir(join(dataset, 'multi_abnormality_labels'), { recursive: true });
  const parts = {
    train: Array.from({ length: 20 }, (_, p) => `train_${p + 1}_a_1`),
    valid: ['valid_1_a_1', 'valid_2_a_1', 'valid_2_a_2'],
  };
  let seed = 0;
  for (const [part, volumes] of Object.entries(parts)) {
    const lines = [['VolumeName', ...CT_RATE_LABELS].join(',')];
    for (const v of volumes) {
      const [split, patient, scan] = v.split('_');
      const folder = join(dataset, part, `${split}_${patient}`, `${split}_${patient}_${scan}`);
      await mkdir(folder, { recursive: true });
      await writeVolume(chestVolume(seed + 1), join(folder, `${v}.nii.gz`));
      // The label follows the chest's shape (seed % 3 moves the body) for half the labels.
      lines.push(
        [`${v}.nii.gz`, ...CT_RATE_LABELS.map((_, l) => ((l % 2 ? seed % 3 === 0 : (seed + l) % 2) ? 1 : 0))].join(','),
      );
      seed++;
    }
    await writeFile(join(dataset, 'multi_abnormality_labels', `${part}_predicted_labels.csv`), `${lines.join('\n')}\n`);
  }
  return { valid: parts.valid };
}

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
    const input = join(root, 'input');
    await mkdir(input);
    for (const v of valid) {
      const [split, patient, scan] = v.split('_');
      const from = join(
        ctRate,
        'dataset',
        'valid',
        `${split}_${patient}`,
        `${split}_${patient}_${scan}`,
        `${v}.nii.gz`,
      );
      await writeFile(join(input, `${v}.nii.gz`), await readFile(from));
    }
    const output = join(root, 'output');
    const r = await vlm3d(['run', '-i', input, '-o', output, '--weights', weights, '-q']);
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(await readFile(join(output, 'results.json'), 'utf8')) as ResultsDocument;
    expect(validateResults(doc, valid)).toEqual([]);
  });
});
