import type { Vec3, VoxelArray } from '../volume/types.js';

/**
 * The `count` slices along index axis `axis` with the most total heat, most heat first: what
 * the summary lists and the montage shows. Ties go to the lower index.
 */
export function topSlicesAlong(
  heat: { size: Vec3; data: VoxelArray },
  axis: 0 | 1 | 2,
  count: number,
): { index: number; meanHeat: number }[] {
  const [nx, ny, nz] = heat.size;
  const mass = new Float64Array(heat.size[axis]);
  const data = heat.data;
  // One loop per axis, summing whole rows where the axis allows: a CT is 79 M voxels per call.
  for (let k = 0, p = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) {
      if (axis === 0) for (let i = 0; i < nx; i++, p++) mass[i] = mass[i]! + data[p]!;
      else {
        let row = 0;
        for (let i = 0; i < nx; i++, p++) row += data[p]!;
        const at = axis === 1 ? j : k;
        mass[at] = mass[at]! + row;
      }
    }
  const area = (nx * ny * nz) / heat.size[axis];
  return Array.from(mass, (m, index) => ({ index, meanHeat: m / area }))
    .sort((a, b) => b.meanHeat - a.meanHeat || a.index - b.index)
    .slice(0, count);
}
