import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foldThreshold, selectThresholds } from '@anymc3d/core/metrics';
import type { PluginCard } from '@anymc3d/core/plugin';
import { pythonReferenceAvailable, runPython } from '@anymc3d/core/testing';
import { writeVolume } from '@anymc3d/core/volume';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameNumbers, vlm3d } from './cli.test-helpers.js';
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
      'crg', // the default: what the 2026 ranking rewards
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
    expect(await readdir(output)).toEqual([]);
  });

  it('--precision int8 runs the quantised frozen backbone close to fp32; --device cuda without CUDA is refused', async () => {
    const output = join(root, 'out-int8');
    const r = await vlm3d(['run', '-i', input, '-o', output, '--weights', weights, '--precision', 'int8']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('int8 on cpu');
    const fp32 = byName(await results(join(root, 'out-main')));
    let largest = 0;
    for (const [name, q] of byName(await results(output)))
      for (const label of CT_RATE_LABELS) largest = Math.max(largest, Math.abs(q[label]! - fp32.get(name)![label]!));
    expect(largest).toBeGreaterThan(0); // another graph ran
    expect(largest).toBeLessThan(0.02);
    // A plugin whose card says it was trained on int8 tokens runs int8 unless told: the same results.
    const int8Card = join(root, 'weights-int8-card');
    await cp(weights, int8Card, { recursive: true });
    const cardPath = join(int8Card, 'plugin', 'plugin.json');
    const card = JSON.parse(await readFile(cardPath, 'utf8')) as PluginCard;
    await writeFile(cardPath, JSON.stringify({ ...card, backbone: { ...card.backbone, precision: 'int8' } }));
    const asTrained = join(root, 'out-int8-card');
    const c = await vlm3d(['run', '-i', input, '-o', asTrained, '--weights', int8Card]);
    expect(c.code, c.err).toBe(0);
    expect(c.err).toContain('int8 on cpu');
    expectSameResults(await results(asTrained), await results(output));
    const gpu = await vlm3d([
      'run',
      '-i',
      input,
      '-o',
      join(root, 'out-cuda'),
      '--weights',
      weights,
      '--device',
      'cuda',
    ]);
    expect(gpu.code).toBe(1);
    expect(gpu.err).toMatch(/cuda/i);
  });

  it('weights without the recipe, or with a vlm3d.json that contradicts it, are refused before any case runs', async () => {
    // A plugin packaged before the recipe moved into plugin.json: its input has no orientation/spacing.
    const legacy = join(root, 'weights-legacy');
    await cp(weights, legacy, { recursive: true });
    const cardPath = join(legacy, 'plugin', 'plugin.json');
    const card = JSON.parse(await readFile(cardPath, 'utf8')) as PluginCard;
    const { orientation, spacing, intensity, ...older } = card.input!;
    void [orientation, spacing, intensity];
    await writeFile(cardPath, JSON.stringify({ ...card, input: older }));
    const r = await vlm3d(['run', '-i', input, '-o', join(root, 'out-none'), '--weights', legacy]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${cardPath}: input records no orientation and spacing, and the folder has no vlm3d.json`);
    // With the vlm3d.json it was packaged with, it runs exactly as before.
    const settings = { format: 'anymc3d-vlm3d', version: 1, orientation: 'LPS', spacing: [1.5, 1.5, 3] };
    const hash = JSON.parse(await readFile(join(legacy, 'plugin', 'plugin.json'), 'utf8')).backbone.weightHash;
    await writeFile(
      join(legacy, 'vlm3d.json'),
      JSON.stringify({ ...settings, backbone: { name: 'tiny', weightHash: hash } }),
    );
    const ok = await vlm3d(['run', '-i', input, '-o', join(root, 'out-legacy'), '--weights', legacy, '-q']);
    expect(ok.code, ok.err).toBe(0);
    expectSameResults(await results(join(root, 'out-legacy')), await results(join(root, 'out-main')));
    // A vlm3d.json beside a plugin whose recipe says otherwise is refused.
    await cp(join(legacy, 'vlm3d.json'), join(weights, 'vlm3d.json'));
    await writeFile(
      join(weights, 'vlm3d.json'),
      JSON.stringify({ ...settings, spacing: [1, 1, 1], backbone: { name: 'tiny', weightHash: hash } }),
    );
    const contradicted = await vlm3d(['run', '-i', input, '-o', join(root, 'out-none'), '--weights', weights]);
    await rm(join(weights, 'vlm3d.json'));
    expect(contradicted.code).toBe(1);
    expect(contradicted.err).toContain(
      'but the plugin was trained with LPS at 1.5×1.5×3 mm (plugin.json input): remove it',
    );
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

const EVALUATOR = new URL('../fixtures/official_evaluator.py', import.meta.url).pathname;
const CASES = ['0c6a3e1b-5f1d-4a5e-9d43-2f4c1b7e8a90', 'valid_1_a_1', 'valid_1_a_2', 'valid_2_a_1'];

/** Ground truth in the evaluator's format: bare AccessionNo, 18 label columns, both classes in most labels. */
async function groundTruth(path: string): Promise<void> {
  const rows = CASES.map((id, c) => `${id},${CT_RATE_LABELS.map((_, l) => ((c + l) % 3 === 0 ? 1 : 0)).join(',')}`);
  await writeFile(path, `AccessionNo,${CT_RATE_LABELS.join(',')}\n${rows.join('\n')}\n`);
}

/** The built entry point with only the platform's environment, as the image's ENTRYPOINT runs it. */
function container(env: Record<string, string>) {
  const { FORITHMUS_INPUT, FORITHMUS_OUTPUT, FORITHMUS_WEIGHTS, ...rest } = process.env;
  void [FORITHMUS_INPUT, FORITHMUS_OUTPUT, FORITHMUS_WEIGHTS];
  return spawnSync(process.execPath, [BIN, 'run'], { env: { ...rest, ...env }, encoding: 'utf8' });
}

describe('the submission as the platform reads it', () => {
  it('writes predictions.json that the official evaluator (its Python re-implementation) scores as vlm3d score does', async () => {
    const output = join(root, 'out-platform');
    const r = container({ FORITHMUS_INPUT: input, FORITHMUS_OUTPUT: output, FORITHMUS_WEIGHTS: weights });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`weights ${weights} (FORITHMUS_WEIGHTS)`);
    expect((await readdir(output)).sort()).toEqual(['predictions.json', 'results.json']);
    const wrapped = JSON.parse(await readFile(join(output, 'predictions.json'), 'utf8'));
    expect(wrapped).toEqual([{ outputs: [{ value: await results(output) }] }]);
    const gt = join(root, 'ground_truth.csv');
    await groundTruth(gt);
    const v = await vlm3d(['validate', output, '--gt', gt]);
    expect(v.code, v.out).toBe(0);
    expect(v.out).toContain(`the evaluator reads ${join(output, 'predictions.json')}`);
    const ours = await vlm3d(['score', '--pred', output, '--gt', gt, '--json']);
    expect(ours.code, ours.err).toBe(0);
    if (!(await pythonReferenceAvailable(['sklearn', 'numpy']))) return;
    const official = JSON.parse(await runPython(EVALUATOR, [output, gt]));
    expectSameNumbers(JSON.parse(ours.out), official);
  });

  it('a folder holding only the flat results.json is what the evaluator cannot read, and validate says so', async () => {
    const flat = join(root, 'out-flat');
    await mkdir(flat);
    await writeFile(join(flat, 'results.json'), await readFile(join(root, 'out-main', 'results.json')));
    const v = await vlm3d(['validate', flat]);
    expect(v.code).toBe(1);
    expect(v.out).toMatch(/official evaluator would fail.*\n.*data\[0\]\["outputs"\]\[0\]\["value"\]/);
    // A ground-truth case without a prediction, and a label left out, read as the evaluator would.
    const partial = join(root, 'out-partial');
    await mkdir(partial);
    const doc = await results(join(root, 'out-main'));
    doc.predictions.pop();
    delete (doc.predictions[0]!.probabilities as Record<string, number>).Emphysema;
    await writeFile(join(partial, 'predictions.json'), JSON.stringify([{ outputs: [{ value: doc }] }]));
    const gt = join(root, 'ground_truth.csv');
    await groundTruth(gt);
    const p = await vlm3d(['validate', partial, '--gt', gt]);
    expect(p.code).toBe(1);
    expect(p.out).toContain('1 ground-truth case(s) without a prediction');
    expect(p.out).toContain('"Emphysema" absent: the evaluator scores them as 0.0');
    if (!(await pythonReferenceAvailable(['sklearn', 'numpy']))) return;
    for (const folder of [flat, partial]) {
      await expect(runPython(EVALUATOR, [folder, gt])).rejects.toThrow(/evaluator fails/);
    }
  });

  it('bad input (no volume, an unreadable one, values that are not CT) exits 1 naming the file, writing nothing', async () => {
    const mri = chestVolume(4);
    const cases: [string, (dir: string) => Promise<string>][] = [
      ['empty', async (dir) => dir],
      [
        'truncated',
        async (dir) => {
          const path = join(dir, 'valid_9_a_1.nii.gz');
          await writeVolume(mri, path);
          const bytes = await readFile(path);
          await writeFile(path, bytes.subarray(0, 200));
          return path;
        },
      ],
      [
        'z-scored MRI',
        async (dir) => {
          const path = join(dir, 'valid_9_a_1.nii.gz');
          await writeVolume({ ...mri, data: Float32Array.from(mri.data, (x) => (x + 300) / 500) }, path);
          return path;
        },
      ],
    ];
    for (const [what, make] of cases) {
      const dir = join(root, `bad-${what.replace(/\W/g, '')}`);
      await mkdir(dir);
      const named = await make(dir);
      const output = join(root, `out-bad-${what.replace(/\W/g, '')}`);
      const r = container({ FORITHMUS_INPUT: dir, FORITHMUS_OUTPUT: output, FORITHMUS_WEIGHTS: weights });
      expect(r.status, what).toBe(1);
      const last = r.stderr.trimEnd().split('\n').at(-1)!;
      expect(last, what).toContain(named);
      expect(await readdir(output), what).toEqual([]);
    }
  });

  it('stops early, writing nothing, when the first volumes project past the time budget', async () => {
    const output = join(root, 'out-budget');
    const env = { FORITHMUS_INPUT: input, FORITHMUS_OUTPUT: output, FORITHMUS_WEIGHTS: weights };
    const over = container({ ...env, VLM3D_TIME_BUDGET: '0.00001' });
    expect(over.status).toBe(1);
    expect(over.stderr).toMatch(
      /stopped early: 4 volumes would take about [\d.]+ min, over the 0.00001 min time budget/,
    );
    expect(await readdir(output)).toEqual([]);
    const within = container({ ...env, VLM3D_TIME_BUDGET: '60' });
    expect(within.status, within.stderr).toBe(0);
    expect(within.stderr).toMatch(
      /time budget: 3\/4 volumes in [\d.]+ min, [\d.]+ s per volume → [\d.]+ min projected of 60 min/,
    );
  });
});
