import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foldThreshold, selectThresholds } from '@anymc3d/core/metrics';
import type { PluginCard } from '@anymc3d/core/plugin';
import { writeVolume } from '@anymc3d/core/volume';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vlm3d } from './cli.test-helpers.js';
import { CT_RATE_LABELS } from './labels.js';
import type { ResultsDocument } from './results.js';
import { validateResults } from './results.js';
import { chestVolume, flippedX, rawVolume, setNiftiScale, THRESHOLDS, tinyModel } from './run.test-helpers.js';

const BIN = new URL('../dist/bin.js', import.meta.url).pathname;

let root: string;
let weights: string;
let input: string;

async function results(dir: string): Promise<ResultsDocument> {
  return JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')) as ResultsDocument;
}

const byName = (doc: ResultsDocument) => new Map(doc.predictions.map((p) => [p.input_image_name, p.probabilities]));

function expectSameProbabilities(a: Record<string, number>, b: Record<string, number>) {
  for (const label of CT_RATE_LABELS) expect(a[label]!).toBeCloseTo(b[label]!, 5);
}

/** Same cases in the same order with the same probabilities (to float32 rounding across sessions). */
function expectSameResults(a: ResultsDocument, b: ResultsDocument) {
  expect(a.predictions.map((p) => p.input_image_name)).toEqual(b.predictions.map((p) => p.input_image_name));
  for (const [i, p] of a.predictions.entries())
    expectSameProbabilities(p.probabilities, b.predictions[i]!.probabilities);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vlm3d-run-'));
  const model = await tinyModel(join(root, 'model'));
  weights = join(root, 'weights');
  const packed = await vlm3d(['package', '--backbone', model.backbone, '--plugin', model.plugin, '-o', weights]);
  expect(packed.code, packed.err).toBe(0);

  // The same chest stored four ways: HU int16 .nii.gz; int16 with scl_slope/scl_inter in the header;
  // float32 HU .mha with the i axis stored reversed, in the Grand Challenge layout; and a second chest.
  input = join(root, 'input');
  await mkdir(join(input, 'images', 'chest-ct'), { recursive: true });
  const chest = chestVolume(1);
  await writeVolume(chest, join(input, 'valid_1_a_1.nii.gz'));
  await writeVolume(
    { ...chest, data: Int16Array.from(chest.data, (x) => x + 1024) },
    join(input, 'valid_1_a_2.nii.gz'),
  );
  await setNiftiScale(join(input, 'valid_1_a_2.nii.gz'), 1, -1024);
  await writeVolume(flippedX(chest), join(input, 'images', 'chest-ct', '0c6a3e1b-5f1d-4a5e-9d43-2f4c1b7e8a90.mha'));
  await writeVolume(chestVolume(2), join(input, 'valid_2_a_1.mha'));
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('vlm3d run', () => {
  it('writes a valid results.json covering every case, bare names, exact labels, values in [0,1]', async () => {
    const output = join(root, 'out-main');
    const r = await vlm3d(['run', '-i', input, '-o', output, '--weights', weights]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('[4/4]');
    const doc = await results(output);
    expect(
      validateResults(doc, ['valid_1_a_1', 'valid_1_a_2', 'valid_2_a_1', '0c6a3e1b-5f1d-4a5e-9d43-2f4c1b7e8a90']),
    ).toEqual([]);
    for (const p of doc.predictions) {
      expect(Object.keys(p.probabilities)).toEqual([...CT_RATE_LABELS]);
      for (const v of Object.values(p.probabilities)) expect(v >= 0 && v <= 1 && Number.isFinite(v)).toBe(true);
    }
    const got = byName(doc);
    // Header rescale applied once by the reader, a reversed axis undone by reorientation.
    expectSameProbabilities(got.get('valid_1_a_2')!, got.get('valid_1_a_1')!);
    expectSameProbabilities(got.get('0c6a3e1b-5f1d-4a5e-9d43-2f4c1b7e8a90')!, got.get('valid_1_a_1')!);
    const differs = CT_RATE_LABELS.some(
      (l) => Math.abs(got.get('valid_2_a_1')![l]! - got.get('valid_1_a_1')![l]!) > 1e-6,
    );
    expect(differs, 'a different chest gives different probabilities').toBe(true);
  });

  it('folds each label threshold monotonically: calibrated = fold(uncalibrated, t), t ↦ 0.5', async () => {
    const calibrated = byName(await results(join(root, 'out-main')));
    const output = join(root, 'out-raw');
    const r = await vlm3d(['run', '-i', input, '-o', output, '--weights', weights, '--uncalibrated', '-q']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe('');
    for (const [name, raw] of byName(await results(output))) {
      CT_RATE_LABELS.forEach((label, l) => {
        const q = calibrated.get(name)![label]!;
        expect(q).toBeCloseTo(foldThreshold(raw[label]!, THRESHOLDS[l]!), 12);
        expect(q >= 0.5).toBe(raw[label]! >= THRESHOLDS[l]!);
      });
    }
  });

  it('package --calibrate chooses each threshold on labelled uncalibrated results, and run folds with it', async () => {
    const raw = join(root, 'out-raw', 'results.json');
    const names = ['valid_1_a_1', 'valid_1_a_2', 'valid_2_a_1', '0c6a3e1b-5f1d-4a5e-9d43-2f4c1b7e8a90'];
    // Label l is positive for the cases whose bit l % 4 is set in a pattern that keeps both classes.
    const truth = names.map((_, c) => CT_RATE_LABELS.map((_, l) => ((c + l) % 4 < 2 ? 1 : 0)));
    const gt = join(root, 'tuning.csv');
    await writeFile(
      gt,
      `VolumeName,${CT_RATE_LABELS.join(',')}\n${names.map((n, c) => `${n}.nii.gz,${truth[c]!.join(',')}`).join('\n')}\n`,
    );
    const tuned = join(root, 'weights-tuned');
    const model = join(root, 'model');
    const p = await vlm3d([
      'package',
      '--backbone',
      join(model, 'backbone'),
      '--plugin',
      join(model, 'plugin'),
      '-o',
      tuned,
      '--calibrate',
      raw,
      '--gt',
      gt,
    ]);
    expect(p.code, p.err).toBe(0);
    const scores = byName(await results(join(root, 'out-raw')));
    const expected = selectThresholds(
      {
        scores: CT_RATE_LABELS.map((l) => names.map((n) => scores.get(n)![l]!)),
        truth: CT_RATE_LABELS.map((_, l) => names.map((_, c) => truth[c]![l]!)),
      },
      'f1',
    );
    const card = JSON.parse(await readFile(join(tuned, 'plugin', 'plugin.json'), 'utf8')) as PluginCard;
    expect(card.thresholds).toEqual(expected.map((t, l) => t ?? THRESHOLDS[l]!));
    expect(card.thresholds).not.toEqual(THRESHOLDS);
    const output = join(root, 'out-tuned');
    const r = await vlm3d(['run', '-i', input, '-o', output, '--weights', tuned, '-q']);
    expect(r.code, r.err).toBe(0);
    for (const [name, q] of byName(await results(output))) {
      CT_RATE_LABELS.forEach((label, l) => {
        expect(q[label]!).toBeCloseTo(foldThreshold(scores.get(name)![label]!, card.thresholds[l]!), 12);
      });
    }
  });

  it('raw voxels need --rescale, and HU voxels are never rescaled twice', async () => {
    const rawInput = join(root, 'input-raw');
    await mkdir(rawInput);
    await writeVolume(rawVolume(chestVolume(1)), join(rawInput, 'valid_1_a_1.nii.gz'));
    const output = join(root, 'out-rawinput');
    const refused = await vlm3d(['run', '-i', rawInput, '-o', output, '--weights', weights]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(join(rawInput, 'valid_1_a_1.nii.gz'));
    expect(refused.err).toMatch(/raw/);
    expect(existsSync(join(output, 'results.json'))).toBe(false);

    const r = await vlm3d(['run', '-i', rawInput, '-o', output, '--weights', weights, '--rescale', '1,-1024']);
    expect(r.code, r.err).toBe(0);
    const reference = byName(await results(join(root, 'out-main'))).get('valid_1_a_1')!;
    expectSameProbabilities(byName(await results(output)).get('valid_1_a_1')!, reference);

    // Or per volume from a metadata table (CT-RATE's columns).
    const metadata = join(root, 'metadata.csv');
    await writeFile(
      metadata,
      'VolumeName,RescaleSlope,RescaleIntercept\nvalid_1_a_1.nii.gz,1,-1024\nvalid_1_a_2.nii.gz,1,-1024\n',
    );
    const m = await vlm3d(['run', '-i', rawInput, '-o', output, '--weights', weights, '--metadata', metadata, '-q']);
    expect(m.code, m.err).toBe(0);
    expectSameProbabilities(byName(await results(output)).get('valid_1_a_1')!, reference);

    // The same rescale on HU input changes nothing (valid_1_a_2's header rescale is not repeated either).
    const again = join(root, 'out-hu-rescale');
    for (const extra of [
      ['--rescale', '1,-1024'],
      ['--metadata', metadata],
    ]) {
      const h = await vlm3d(['run', '-i', input, '-o', again, '--weights', weights, ...extra, '-q']);
      expect(h.code, h.err).toBe(0);
      expectSameResults(await results(again), await results(join(root, 'out-main')));
    }
  });

  it('a corrupt volume fails the whole run, naming the file, and leaves no results.json (not even an old one)', async () => {
    const broken = join(root, 'input-broken');
    await mkdir(broken);
    await writeVolume(chestVolume(3), join(broken, 'valid_3_a_1.nii.gz'));
    const good = await readFile(join(broken, 'valid_3_a_1.nii.gz'));
    await writeFile(join(broken, 'valid_4_a_1.nii.gz'), good.subarray(0, Math.floor(good.length / 2)));
    const output = join(root, 'out-broken');
    await mkdir(output);
    await writeFile(join(output, 'results.json'), '{"stale": true}\n');
    const r = await vlm3d(['run', '-i', broken, '-o', output, '--weights', weights]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(join(broken, 'valid_4_a_1.nii.gz'));
    expect(existsSync(join(output, 'results.json'))).toBe(false);
  });

  it('weights that are not the challenge model are refused before any case runs', async () => {
    const r = await vlm3d(['run', '-i', input, '-o', join(root, 'out-none'), '--weights', join(root, 'model')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(join(root, 'model', 'vlm3d.json'));
  });

  it('the built entry point reads FORITHMUS_* as the container does and exits non-zero on failure', async () => {
    const output = join(root, 'out-bin');
    const env = { ...process.env, FORITHMUS_INPUT: input, FORITHMUS_OUTPUT: output, FORITHMUS_WEIGHTS: weights };
    const ok = spawnSync(process.execPath, [BIN, 'run'], { env, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('wrote');
    expectSameResults(await results(output), await results(join(root, 'out-main')));
    const bad = spawnSync(process.execPath, [BIN, 'run'], {
      env: { ...env, FORITHMUS_INPUT: join(root, 'input-broken') },
      encoding: 'utf8',
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('valid_4_a_1.nii.gz');
    expect(existsSync(join(output, 'results.json'))).toBe(false);
  });
});
