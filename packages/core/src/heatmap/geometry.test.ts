import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ViewInput } from '../pipeline/embed-volume.js';
import type { PluginCard } from '../plugin/card.js';
import { addViewQueries } from '../plugin/multi-view.js';
import { initPluginWeights } from '../plugin/plugin-graph.js';
import { testPluginCard } from '../testing/plugin-card.js';
import { pythonReferenceAvailable, runPython } from '../testing/python.js';
import { tinyCnnBackbone } from '../testing/tiny-cnn.js';
import { affineRAS, affineRows } from '../volume/geometry.js';
import { readVolume } from '../volume/read.js';
import type { Volume } from '../volume/types.js';
import { writeVolume } from '../volume/write.js';
import { caseHeatmaps } from './case-heatmap.js';
import { writeHeatmapOutputs } from './outputs.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/volume/', import.meta.url));
const SHARED = fileURLToPath(new URL('../../../../../shared/data/', import.meta.url));
const DESCRIBE = fileURLToPath(new URL('../../fixtures/nib_describe.py', import.meta.url));

const backbone = tinyCnnBackbone({ dim: 8, patch: 4, seed: 7 });
const card: PluginCard = testPluginCard({
  task: 'geometry',
  labels: ['finding'],
  windows: [[-160, 240]],
  inputSize: [32, 32],
  dim: 8,
  backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
});
const weights = initPluginWeights({ dim: 8, labels: ['finding'], kind: 'multilabel', loss: 'bce' }, 3);
const view: ViewInput = {
  name: 'axial',
  axis: 'axial',
  size: [32, 32],
  channels: { windows: [[-160, 240]] },
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'anymc3d-heatgeom-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Described {
  affineRAS: number[][];
  shape: number[];
  dtype: string;
  calRange: [number, number];
  descrip: string;
  storedDtype: string;
  slope: number | null;
  inter: number | null;
  head: number[];
}
const describeNifti = async (path: string) => JSON.parse(await runPython(DESCRIBE, [path])) as Described;

function expectClose(a: number[][], b: number[][], tol = 1e-6): void {
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(Math.abs(a[r]![c]! - b[r]![c]!)).toBeLessThan(tol);
}

async function heatmapFile(volume: Volume): Promise<string> {
  return (await heatmapWritten(volume)).path;
}

async function heatmapWritten(volume: Volume): Promise<{ path: string; heat: Float32Array }> {
  const result = await caseHeatmaps({
    volume,
    views: [view],
    backbone,
    plugin: { card, weights, source: 'test' },
    threads: 1,
  });
  const { heat } = result;
  expect([...heat.size]).toEqual([...volume.size]);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of heat.data) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  expect(lo).toBeGreaterThanOrEqual(0);
  expect(hi).toBe(1);
  return { path: (await writeHeatmapOutputs(tmp(), result)).nifti, heat: heat.data as Float32Array };
}

describe('heatmap geometry (nibabel)', async () => {
  const nib = await pythonReferenceAvailable(['nibabel', 'numpy']);

  it.runIf(nib)(
    'an oblique anisotropic NIfTI: the heatmap has exactly its affine, in 16-bit codes of 0–1',
    async () => {
      const input = join(FIXTURES, 'aniso_float32.nii');
      const { volume } = await readVolume(input);
      const written = await heatmapWritten(volume);
      const [ref, out] = await Promise.all([describeNifti(input), describeNifti(written.path)]);
      expect(out.shape).toEqual(ref.shape);
      // uint16 codes with scl_slope 1/65535: nibabel gives back the map within half a step.
      expect(out.storedDtype).toBe('uint16');
      expect(out.slope).toBeCloseTo(1 / 65535, 12);
      expect(out.inter).toBe(0);
      for (const [p, v] of out.head.entries())
        expect(Math.abs(v - written.heat[p]!)).toBeLessThanOrEqual(0.5 / 65535 + 1e-9);
      expectClose(out.affineRAS, ref.affineRAS);
      // Viewers open it on its own 0–1 scale, and the file says what it is.
      expect(out.calRange).toEqual([0, 1]);
      expect(out.descrip).toMatch(/^anymc3d heatmap/);
    },
  );

  it.runIf(nib)('an NRRD: the heatmap has the affine nibabel gives the NIfTI it was written from', async () => {
    const source = join(FIXTURES, 'oblique_int16.nii.gz');
    const nrrd = join(tmp(), 'oblique.nrrd');
    await writeVolume((await readVolume(source)).volume, nrrd);
    const { volume, format } = await readVolume(nrrd);
    expect(format).toBe('nrrd');
    const [ref, out] = await Promise.all([describeNifti(source), describeNifti(await heatmapFile(volume))]);
    expect(out.shape).toEqual(ref.shape);
    expectClose(out.affineRAS, ref.affineRAS);
  });

  it.runIf(nib)(
    'the tilted DICOM series: the heatmap carries the read grid, which starts at the first slice',
    async () => {
      const { volume } = await readVolume(join(SHARED, 'dicom/ct-gantry-tilt'));
      const out = await describeNifti(await heatmapFile(volume));
      expect(out.shape).toEqual([...volume.size]);
      // NIfTI stores the affine as float32: the read grid's affine, so rounded, is what must come back.
      expectClose(
        out.affineRAS,
        affineRows(affineRAS(volume)).map((row) => row.map(Math.fround)),
      );
      // pydicom's ImagePositionPatient of the first slice (LPS) is the affine's translation (RAS).
      const first = [-125.0, -123.5404569, 5.8360586];
      expect(Math.abs(out.affineRAS[0]![3]! + first[0]!)).toBeLessThan(1e-3);
      expect(Math.abs(out.affineRAS[1]![3]! + first[1]!)).toBeLessThan(1e-3);
      expect(Math.abs(out.affineRAS[2]![3]! - first[2]!)).toBeLessThan(1e-3);
    },
    60_000,
  );
});

describe('multi-view heatmaps', () => {
  it('sum the views mapped onto the one input grid with the fusion weights', async () => {
    const { volume } = await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'));
    const mv: PluginCard = { ...card, views: ['axial', 'coronal'] };
    const mvWeights = addViewQueries(weights, 2, 4);
    const views = [view, { ...view, name: 'coronal', axis: 'coronal' as const }];
    const { heat, summary } = await caseHeatmaps({
      volume,
      views,
      backbone,
      plugin: { card: mv, weights: mvWeights, source: 'mv' },
      threads: 1,
    });
    expect(summary.views.map((v) => v.axis)).toEqual(['axial', 'coronal']);
    expect(summary.views[0]!.weight + summary.views[1]!.weight).toBeCloseTo(1, 6);
    expect([...heat.size]).toEqual([...volume.size]);
    expect(
      heat.data[
        summary.peak.voxel[0] + volume.size[0] * (summary.peak.voxel[1] + volume.size[1] * summary.peak.voxel[2])
      ],
    ).toBe(1);
    await expect(
      caseHeatmaps({ volume, views: [view], backbone, plugin: { card: mv, weights: mvWeights, source: 'mv' } }),
    ).rejects.toThrow(/2 views, 1 were given/);
  });
});

describe('heatmap outputs', () => {
  it('a NIfTI that cannot be written while the montage is drawn leaves no file of the case behind', async () => {
    const { volume } = await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'));
    const result = await caseHeatmaps({
      volume,
      views: [view],
      backbone,
      plugin: { card, weights, source: 't' },
      threads: 1,
    });
    // A value the 16-bit codes cannot hold: the NIfTI is refused, and the montage (drawn at the
    // same time) must not be written either, nor the JSON that would point at them.
    (result.heat.data as Float32Array)[5] = Number.NaN;
    const dir = tmp();
    await expect(
      writeHeatmapOutputs(dir, result, { image: volume, view, png: true, caption: { caseId: 'c', plugin: 'p' } }),
    ).rejects.toThrow(/finding\.nii\.gz.*voxel 5 is NaN/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
