import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { renderSlicePng, voxelAxisFor } from './slice-png.js';
import { servedVolume } from './testing/served-volume.js';
import { syntheticVolume } from './testing/synthetic-volume.js';

describe('renderSlicePng', () => {
  it('maps the window linearly to grey, columns along i and the top row at the highest j', async () => {
    const image = await servedVolume(await syntheticVolume([12, 10, 6]));
    const png = PNG.sync.read(renderSlicePng(image, { axis: 'axial', index: 3, window: [-1000, 600] }));
    expect([png.width, png.height]).toEqual([12, 10]);
    for (const [i, j] of [
      [0, 0],
      [6, 5],
      [7, 4],
      [11, 9],
    ] as const) {
      const value = Number(image.data[i + 12 * (j + 10 * 3)]);
      const grey = Math.round(Math.min(255, Math.max(0, ((value + 1000) * 255) / 1600)));
      const o = 4 * ((9 - j) * 12 + i);
      expect([png.data[o], png.data[o + 1], png.data[o + 2], png.data[o + 3]]).toEqual([grey, grey, grey, 255]);
    }
  });

  it('blends the overlay with alpha = value × opacity, leaving zero heat clear', async () => {
    const image = await servedVolume(await syntheticVolume([8, 8, 4]));
    const heat = { ...image, data: new Float32Array(image.data.length) };
    heat.data[2 + 8 * (3 + 8 * 1)] = 1;
    const png = PNG.sync.read(
      renderSlicePng(image, {
        axis: 'axial',
        index: 1,
        window: [-1000, 600],
        overlay: { volume: heat, colormap: 'hot', opacity: 0.5, range: [0, 1] },
      }),
    );
    const plain = PNG.sync.read(renderSlicePng(image, { axis: 'axial', index: 1, window: [-1000, 600] }));
    const o = 4 * ((7 - 3) * 8 + 2);
    const g = plain.data[o] as number;
    expect([png.data[o], png.data[o + 1], png.data[o + 2]]).toEqual([
      Math.round(g * 0.5 + 255 * 0.5),
      Math.round(g * 0.5 + 255 * 0.5),
      Math.round(g * 0.5 + 255 * 0.5),
    ]);
    let differing = 0;
    for (let p = 0; p < png.data.length; p += 4) if (png.data[p] !== plain.data[p]) differing++;
    expect(differing).toBe(1);
  });

  it('picks the voxel axis nearest each plane normal from the affine (nibabel fixture with swapped axes)', async () => {
    const v = await servedVolume(fileURLToPath(new URL('../fixtures/be_float32.nii', import.meta.url)));
    // voxel i runs along world y (A), j along world x (R), k along z (S).
    expect(voxelAxisFor(v, 'coronal')).toBe(0);
    expect(voxelAxisFor(v, 'sagittal')).toBe(1);
    expect(voxelAxisFor(v, 'axial')).toBe(2);
  });
});
