import { encodeNiftiFloat32, type NiftiVolume } from '../nifti.js';

/**
 * A small test volume: an ellipsoid "body" (value 100) with a brighter sphere (value 400) in
 * a dark background (-1000), 1.5 × 1.5 × 3 mm voxels, RAS-aligned sform at a non-zero origin.
 */
export function syntheticVolume(dims: [number, number, number] = [48, 40, 24]): Uint8Array {
  const [nx, ny, nz] = dims;
  const spacing = [1.5, 1.5, 3];
  const like: Pick<NiftiVolume, 'dims' | 'geometry'> = {
    dims,
    geometry: {
      pixdim: [1, spacing[0] as number, spacing[1] as number, spacing[2] as number, 0, 0, 0, 0],
      xyztUnits: 2,
      qformCode: 0,
      sformCode: 1,
      quatern: [0, 0, 0],
      qoffset: [0, 0, 0],
      srow: [1.5, 0, 0, -30, 0, 1.5, 0, -20, 0, 0, 3, 10],
    },
  };
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const x = (i - nx / 2) / (nx * 0.42);
        const y = (j - ny / 2) / (ny * 0.4);
        const z = (k - nz / 2) / (nz * 0.48);
        const r = Math.hypot(i - nx * 0.6, j - ny * 0.45, (k - nz / 2) * 2);
        data[i + nx * (j + ny * k)] = r < Math.min(nx, ny) / 6 ? 400 : x * x + y * y + z * z < 1 ? 100 : -1000;
      }
  return encodeNiftiFloat32(like, data, { calMin: -1000, calMax: 600, description: 'synthetic test volume' });
}
