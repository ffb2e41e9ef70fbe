import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import type { PluginCard } from '@anymc3d/core/plugin';
import { unzipSync } from 'fflate';
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
    const args = [
      'train',
      '--ct-rate',
      ctRate,
      '--backbone',
      backbone,
      '-o',
      plugin,
      '--mode',
      'frozen',
      '--cache',
      cache,
    ];
    const t = await vlm3d([...args, '--steps', '4', '--batch', '4', '--threads', '1']);
    expect(t.code, t.err).toBe(0);
    expect(t.err).toMatch(/train: 18\/18 embedded/);
    expect(t.err).toContain('CT-RATE v1 (train, valid');
    expect(t.err).toContain('thresholds (crg on 2 val cases)');
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

describe('vlm3d train reads both CT-RATE releases', () => {
  const tiny = async () => {
    const backbone = join(root, 'backbone-releases');
    if (!existsSync(backbone))
      await writeTinyDinov2(backbone, { name: 'tiny_dinov2', hiddenSize: 32, layers: 1, heads: 2, imageSize: 16 });
    return backbone;
  };

  it('v2 (_fixed, HU) and v1 (raw + metadata rescale) give the same tokens; the default mode is LoRA', async () => {
    const backbone = await tiny();
    /** `vlm3d train` on the replica of `release` into `root`/`plugin`, one thread. */
    const train = (release: string, plugin: string, extra: string[]) =>
      vlm3d([
        'train',
        '--ct-rate',
        join(root, `ct-rate-${release}`),
        '--backbone',
        backbone,
        '-o',
        join(root, plugin),
        '--threads',
        '1',
        ...extra,
      ]);
    const tokens: string[] = [];
    for (const release of ['v2', 'v1-raw'] as const) {
      const ctRate = join(root, `ct-rate-${release}`);
      await ctRateReplica(ctRate, release);
      const plugin = join(root, `plugin-${release}`);
      const t = await train(release, `plugin-${release}`, ['--mode', 'frozen', '--steps', '2', '--limit', '4']);
      expect(t.code, t.err).toBe(0);
      expect(t.err).toContain(
        release === 'v2'
          ? 'CT-RATE v2 (train_fixed, valid_fixed under'
          : `raw volumes rescaled by ${join(ctRate, 'dataset', 'metadata', 'train_metadata.csv')}`,
      );
      const card = JSON.parse(await readFile(join(plugin, 'plugin.json'), 'utf8')) as PluginCard;
      expect(card.metrics.val_auroc, 'a val AUROC to compare').toBeTypeOf('number');
      tokens.push(JSON.stringify({ metrics: card.metrics, thresholds: card.thresholds }));
    }
    // Same HU pixels either way, so the same validation AUROC and the same thresholds chosen on it.
    expect(tokens[0]).toBe(tokens[1]);

    // --precision int8 (frozen mode): tokens in int8, recorded in the plugin's card, which `vlm3d
    // run` and `anymc3d predict` then follow; the fp32 plugin's card says nothing.
    const int8 = await train('v2', 'plugin-int8', [
      '--mode',
      'frozen',
      '--steps',
      '2',
      '--limit',
      '4',
      '--precision',
      'int8',
    ]);
    expect(int8.code, int8.err).toBe(0);
    expect(int8.err).toContain('frozen tokens (int8)');
    const int8Card = JSON.parse(await readFile(join(root, 'plugin-int8', 'plugin.json'), 'utf8')) as PluginCard;
    expect(int8Card.backbone.precision).toBe('int8');
    const fp32Card = JSON.parse(await readFile(join(root, 'plugin-v2', 'plugin.json'), 'utf8')) as PluginCard;
    expect(fp32Card.backbone.precision).toBeUndefined();

    // Without --mode the method itself trains (LoRA + query + head).
    const lora = await train('v2', 'plugin-default', ['--limit', '2', '--lora-steps', '1', '--batch', '1']);
    expect(lora.code, lora.err).toBe(0);
    expect(lora.err).toContain('lora training on 2 train cases');
    const loraInt8 = await train('v2', 'x', ['--precision', 'int8']);
    expect(loraInt8.code).toBe(2);
    expect(loraInt8.err).toContain('--precision is not for --mode lora');
    const card = JSON.parse(await readFile(join(root, 'plugin-default', 'plugin.json'), 'utf8')) as PluginCard;
    expect(card.lora?.rank).toBe(8);
  });

  it('raw v1 volumes without their metadata, and a download holding both releases, are refused', async () => {
    const backbone = await tiny();
    const ctRate = join(root, 'ct-rate-v1-nometa');
    await ctRateReplica(ctRate, 'v1-raw');
    await rm(join(ctRate, 'dataset', 'metadata'), { recursive: true });
    const base = [
      'train',
      '--backbone',
      backbone,
      '--mode',
      'frozen',
      '--steps',
      '1',
      '--limit',
      '2',
      '--threads',
      '1',
    ];
    const raw = await vlm3d([...base, '--ct-rate', ctRate, '-o', join(root, 'p-nometa')]);
    expect(raw.code).toBe(1);
    expect(raw.err).toMatch(/train_1_a_1\.nii\.gz: input\.intensity "ct-hu": voxels look raw/);

    // Both releases side by side: refused until --release says which.
    const both = join(root, 'ct-rate-v2');
    await cp(join(root, 'ct-rate-v1-raw', 'dataset', 'train'), join(both, 'dataset', 'train'), { recursive: true });
    const mixed = await vlm3d([...base, '--ct-rate', both, '-o', join(root, 'p-mixed')]);
    expect(mixed.code).toBe(1);
    expect(mixed.err).toMatch(
      /both CT-RATE releases are here \(v1: train; v2, already in HU: train_fixed, valid_fixed\)/,
    );
    const chosen = await vlm3d([...base, '--ct-rate', both, '-o', join(root, 'p-chosen'), '--release', 'v2']);
    expect(chosen.code, chosen.err).toBe(0);
  });

  it('package -o weights.zip puts the weights folder at the archive root and runs as the folder does', async () => {
    const backbone = await tiny();
    const zip = join(root, 'weights.zip');
    const p = await vlm3d(['package', '--backbone', backbone, '--plugin', join(root, 'plugin-v2'), '-o', zip]);
    expect(p.code, p.err).toBe(0);
    const entries = unzipSync(new Uint8Array(await readFile(zip)));
    expect(Object.keys(entries).sort()).toEqual([
      'backbone/backbone.json',
      'backbone/config.json',
      'backbone/model.safetensors',
      'plugin/plugin.json',
      'plugin/plugin.safetensors',
    ]);
    // Unpacked where the platform mounts it, the weights load and run.
    const mounted = join(root, 'mounted-weights');
    for (const [name, bytes] of Object.entries(entries)) {
      await mkdir(dirname(join(mounted, name)), { recursive: true });
      await writeFile(join(mounted, name), bytes);
    }
    const input = await flatInput(join(root, 'ct-rate-v2'), [], join(root, 'zip-input'));
    await cp(
      join(root, 'ct-rate-v2', 'dataset', 'valid_fixed', 'valid_1', 'valid_1_a', 'valid_1_a_1.nii.gz'),
      join(input, 'valid_1_a_1.nii.gz'),
    );
    const r = await vlm3d(['run', '-i', input, '-o', join(root, 'zip-out'), '--weights', mounted, '-q']);
    expect(r.code, r.err).toBe(0);
    expect(
      (await vlm3d(['package', '--backbone', backbone, '--plugin', join(root, 'plugin-v2'), '-o', zip])).err,
    ).toContain('already exists');
  });
});
