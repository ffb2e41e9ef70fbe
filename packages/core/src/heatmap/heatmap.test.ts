import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { mapSumToSource, mapToSource, type SpatialRecord } from '../volume/record.js';
import type { Volume } from '../volume/types.js';
import { sliceBatches } from '../volume/views.js';
import { colormapLut } from './colormap.js';
import { renderMontage, shrinkSlice, topSlices } from './montage.js';
import { HeatPlaneStats, topSlicesAlong, topSlicesOf } from './slice-heat.js';
import { classActivationMaps, patchGridRecord, upsampleSliceMaps, weightSlices } from './slice-maps.js';

describe('slice maps', () => {
  it('upsamples a patch grid bilinearly with half-pixel centres and weights each slice', () => {
    // 2×2 grid → 4×4: the corner pixels keep the corner values (edge clamp), centres interpolate.
    const values = Float32Array.from([0, 1, 2, 3, 0, 1, 2, 3]);
    const up = upsampleSliceMaps({ values, slices: 2, grid: [2, 2] }, [4, 4], [1, 0.5]);
    expect(up[0]).toBeCloseTo(0);
    expect(up[3]).toBeCloseTo(1);
    expect(up[15]).toBeCloseTo(3);
    // Pixel (1,1) samples source (0.25, 0.25): 0 + 0.25·1 + 0.25·2 = 0.75.
    expect(up[5]).toBeCloseTo(0.75);
    expect(up[16 + 15]).toBeCloseTo(1.5);
  });

  it('mapping from the patch grid equals upsampling to the slice first, up to the second interpolation', () => {
    // An oblique, anisotropic 20×16×12 volume viewed coronally at 28×42 (H×W).
    const c = Math.cos(0.3);
    const sn = Math.sin(0.3);
    const volume: Volume = {
      data: new Float32Array(20 * 16 * 12),
      size: [20, 16, 12],
      spacing: [0.8, 1.1, 2.5],
      origin: [10, -5, 3],
      direction: Float64Array.from([c, -sn, 0, sn, c, 0, 0, 0, 1]),
    };
    const batches = sliceBatches(volume, { axis: 'coronal', size: [28, 42], channels: { replicate: true } });
    const S = batches.slices;
    const weights = Array.from({ length: S }, (_, k) => (k + 1) / S);
    const compare = (grid: [number, number]) => {
      const values = Float32Array.from(
        { length: S * grid[0] * grid[1] },
        (_, i) => 1 + Math.sin(i * 0.7) * Math.cos(i * 0.13),
      );
      const maps = { values, slices: S, grid };
      const twoStage = mapToSource(upsampleSliceMaps(maps, [28, 42], weights), batches.record).data as Float32Array;
      const direct = mapToSource(weightSlices(maps, weights), patchGridRecord(batches.record, grid))
        .data as Float32Array;
      let worst = 0;
      let peak = 0;
      for (let i = 0; i < direct.length; i++) {
        // The same field of view: zeros (outside the slices) in the same places.
        expect(direct[i] === 0, `voxel ${i}`).toBe(twoStage[i] === 0);
        worst = Math.max(worst, Math.abs(direct[i]! - twoStage[i]!));
        peak = Math.max(peak, Math.abs(twoStage[i]!));
      }
      expect(peak).toBeGreaterThan(0.5);
      return worst / peak;
    };
    // 7-pixel patches: cell centres fall on pixel centres, where the upsampled map has its kinks, so
    // linear interpolation between pixels reproduces it and both paths agree to rounding.
    expect(compare([4, 6])).toBeLessThan(1e-5);
    // 14-pixel patches (DINOv2's): the kinks fall between pixels; the paths differ only there.
    expect(compare([2, 3])).toBeLessThan(0.05);
  });

  it('class activation maps sum to the logit minus the bias', () => {
    const [S, P, C] = [3, 4, 5];
    const features = Float32Array.from({ length: S * P * C }, (_, i) => Math.sin(i));
    const w = Float32Array.from({ length: C }, (_, i) => Math.cos(i));
    const a = [0.2, 0.5, 0.3];
    const cam = classActivationMaps(features, S, [2, 2], C, w, a);
    let logit = 0;
    for (let s = 0; s < S; s++)
      for (let c = 0; c < C; c++) {
        let mean = 0;
        for (let p = 0; p < P; p++) mean += features[(s * P + p) * C + c]! / P;
        logit += a[s]! * mean * w[c]!;
      }
    expect(cam.values.reduce((x, y) => x + y, 0)).toBeCloseTo(logit, 5);
  });
});

describe('topSlicesAlong', () => {
  it('ranks the slices along each axis by total heat, as a voxel-by-voxel sum does', () => {
    const size: [number, number, number] = [7, 5, 6];
    const data = Float32Array.from({ length: 210 }, (_, p) => Math.abs(Math.sin(p * 1.37)) ** 3);
    for (const axis of [0, 1, 2] as const) {
      const mass = new Array<number>(size[axis]).fill(0);
      for (let p = 0; p < data.length; p++) {
        const index = [p % 7, Math.floor(p / 7) % 5, Math.floor(p / 35)][axis]!;
        mass[index] = mass[index]! + data[p]!;
      }
      const want = mass
        .map((m, index) => ({ index, m }))
        .sort((a, b) => b.m - a.m)
        .slice(0, 3);
      const got = topSlicesAlong({ size, data }, axis, 3);
      expect(got.map((t) => t.index)).toEqual(want.map((t) => t.index));
      for (const [r, t] of got.entries()) expect(t.meanHeat).toBeCloseTo((want[r]!.m * size[axis]) / 210, 6);
    }
  });
});

describe('HeatPlaneStats', () => {
  it('clips, finds the peak and ranks slices in the sweep as passes over the stored map would', () => {
    // A 3×4×2 map with negative values, upsampled ×2 in i and j onto a 6×8×2 source grid.
    const record: SpatialRecord = {
      source: {
        size: [6, 8, 2],
        spacing: [1, 1, 1],
        origin: [0, 0, 0],
        direction: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1),
      },
      steps: [
        {
          op: 'resample',
          input: {
            size: [6, 8, 2],
            spacing: [1, 1, 1],
            origin: [0, 0, 0],
            direction: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1),
          },
          output: {
            size: [3, 4, 2],
            spacing: [2, 2, 1],
            origin: [0.5, 0.5, 0],
            direction: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1),
          },
          indexMap: Float64Array.of(2, 0, 0, 0.5, 0, 2, 0, 0.5, 0, 0, 1, 0, 0, 0, 0, 1),
          params: {},
        },
      ],
    };
    const values = Float32Array.from({ length: 24 }, (_, p) => Math.sin(p * 2.1) * (p % 5));
    const plain = mapSumToSource([{ values, record, weight: 0.7 }]).data as Float32Array;
    const stats = new HeatPlaneStats([6, 8, 2]);
    const swept = mapSumToSource([{ values, record, weight: 0.7 }], { eachPlane: stats.take }).data as Float32Array;
    expect(Math.min(...swept)).toBe(0);
    for (const [p, v] of swept.entries()) expect(v).toBe(Math.max(plain[p]!, 0));
    expect(stats.max).toBe(Math.max(...plain));
    expect(stats.peak).toBe(plain.indexOf(Math.max(...plain)));
    const heat = swept.map((v) => v / stats.max);
    const sliceHeat = stats.sliceHeat();
    for (const axis of [0, 1, 2] as const) {
      const want = topSlicesAlong({ size: [6, 8, 2], data: heat }, axis, 8);
      const got = topSlicesOf(sliceHeat[axis], 8);
      expect(got.map((t) => t.index)).toEqual(want.map((t) => t.index));
      for (const [r, t] of got.entries()) expect(t.meanHeat).toBeCloseTo(want[r]!.meanHeat, 6);
      expect(sliceHeat[axis].length).toBe([6, 8, 2][axis]);
    }
  });
});

describe('montage', () => {
  it('draws a large slice at the size shown, averaging pixels instead of dropping them', async () => {
    // 600² one-pixel checkerboard: shown at 150 px (300 px in the 2× PNG), each tile pixel
    // averages 2×2 input pixels, an even grey; dropping pixels would give pure black or white.
    const [S, H, W] = [1, 600, 600];
    const image = {
      data: Float32Array.from({ length: S * H * W }, (_, p) => ((p % W) + Math.floor(p / W)) % 2),
      slices: S,
      height: H,
      width: W,
    };
    const heat = { data: new Float32Array(S * H * W), slices: S, height: H, width: W };
    const row = { label: 'axial', indexName: 'k', image, heat, pixelAspect: 1 };
    const { svg } = await renderMontage([row], { title: 't', subtitle: 's' }, { count: 1 });
    const tiles = [...svg.matchAll(/href="data:image\/png;base64,([^"]+)"/g)].map((m) =>
      PNG.sync.read(Buffer.from(m[1]!, 'base64')),
    );
    expect(tiles.map((t) => [t.width, t.height])).toEqual([
      [300, 300],
      [300, 300],
    ]);
    const greys = new Set<number>();
    for (let i = 0; i < 300 * 300; i++) greys.add(tiles[0]!.data[i * 4]!);
    expect([...greys]).toEqual([128]);
  });

  it('shrinkSlice keeps a constant constant and the mean of any slice, for uneven ratios', () => {
    const stack = {
      data: Float32Array.from({ length: 2 * 7 * 11 }, (_, p) => (p * 37) % 13),
      slices: 2,
      height: 7,
      width: 11,
    };
    const plane = shrinkSlice(stack, 1, 4, 3);
    expect([plane.width, plane.height]).toEqual([4, 3]);
    const flat = shrinkSlice({ ...stack, data: new Float32Array(154).fill(0.25) }, 0, 5, 2);
    expect(new Set(flat.data)).toEqual(new Set([0.25]));
    const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;
    // Uneven spans weigh pixels slightly unequally: the mean holds to a few percent of the range.
    expect(Math.abs(mean(plane.data) - mean(stack.data.subarray(77)))).toBeLessThan(0.5);
    expect(shrinkSlice(stack, 0, 20, 20).data).toEqual(stack.data.subarray(0, 77));
  });

  it('picks the slices with the most heat and draws the overlay only where heat is, with words a reader needs', async () => {
    const [S, H, W] = [5, 8, 8];
    const image = { data: new Float32Array(S * H * W).fill(0.5), slices: S, height: H, width: W };
    const heat = { data: new Float32Array(S * H * W), slices: S, height: H, width: W };
    heat.data[3 * H * W + 2 * W + 2] = 1; // slice 3, pixel (2,2)
    heat.data[1 * H * W] = 0.5;
    expect(topSlices(heat, 2)).toEqual([1, 3]);
    const row = {
      label: 'axial view (axial, slices along k) · view weight 1.00',
      indexName: 'k',
      image,
      heat,
      pixelAspect: 1,
    };
    const text = { title: 'case-7 · toy plugin · blob: p = 0.812, threshold 0.500 → positive', subtitle: 'attention' };
    const { svg, png, slices } = await renderMontage([row], text, { count: 2, opacity: 1, floor: 0.2 });
    expect(slices).toEqual([[1, 3]]);
    const words = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!.replace(/&gt;/g, '>'));
    expect(words).toContain(text.title);
    expect(words).toContain(row.label);
    expect(words).toContain('k = 3 of 5 · mean heat 0.02');
    for (const v of ['0.00', '0.25', '0.50', '0.75', '1.00']) expect(words).toContain(v);
    // Input beside overlay for each slice: 4 tiles; the overlay of slice 3 has the colormap's top
    // colour at the hot pixel and the plain grey elsewhere.
    const tiles = [...svg.matchAll(/href="data:image\/png;base64,([^"]+)"/g)].map((m) =>
      PNG.sync.read(Buffer.from(m[1]!, 'base64')),
    );
    expect(tiles).toHaveLength(4);
    const px = (img: PNG, x: number, y: number) =>
      Array.from(img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 3));
    const lut = colormapLut('inferno');
    expect(px(tiles[3]!, 2, 2)).toEqual([lut[765], lut[766], lut[767]]);
    expect(px(tiles[3]!, 3, 2)).toEqual([128, 128, 128]);
    expect(px(tiles[2]!, 2, 2)).toEqual([128, 128, 128]);
    // The page is the tiles and their words, not empty space: tiles cover a good share of it.
    const page = PNG.sync.read(Buffer.from(png));
    const tileArea = 4 * (2 * 150) ** 2;
    expect(tileArea / (page.width * page.height)).toBeGreaterThan(0.25);
  });

  it('refuses an image and heatmap of different sizes', async () => {
    const a = { data: new Float32Array(8), slices: 2, height: 2, width: 2 };
    const b = { data: new Float32Array(12), slices: 3, height: 2, width: 2 };
    await expect(
      renderMontage([{ label: 'v', indexName: 'k', image: a, heat: b, pixelAspect: 1 }], { title: '', subtitle: '' }),
    ).rejects.toThrow(/differ/);
  });
});
