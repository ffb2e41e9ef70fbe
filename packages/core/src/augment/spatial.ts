import { type Affine, identityAffine, invertAffine, multiplyAffine } from '../volume/geometry.js';
import { nearest, sameType, trilinear } from '../volume/record.js';
import type { Vec3, Volume, VoxelArray } from '../volume/types.js';

/** Rotation (radians about the x, y, z axes of the physical frame), per-axis scale and flips. */
export interface SpatialParams {
  rotation: Vec3;
  scale: number;
  flip: [boolean, boolean, boolean];
}

function rotationMatrix([ax, ay, az]: Vec3): Affine {
  const rx = identityAffine();
  rx[5] = Math.cos(ax);
  rx[6] = -Math.sin(ax);
  rx[9] = Math.sin(ax);
  rx[10] = Math.cos(ax);
  const ry = identityAffine();
  ry[0] = Math.cos(ay);
  ry[2] = Math.sin(ay);
  ry[8] = -Math.sin(ay);
  ry[10] = Math.cos(ay);
  const rz = identityAffine();
  rz[0] = Math.cos(az);
  rz[1] = -Math.sin(az);
  rz[4] = Math.sin(az);
  rz[5] = Math.cos(az);
  return multiplyAffine(rz, multiplyAffine(ry, rx));
}

/**
 * Output index → input index for a rotation and zoom about the volume's centre, done in
 * millimetres (so anisotropic voxels rotate correctly), then the flips. The output grid is the
 * input grid: augmentation changes content, never geometry.
 */
export function spatialIndexMap(size: Vec3, spacing: Vec3, p: SpatialParams): Affine {
  const centre = size.map((n) => (n - 1) / 2);
  const toMm = identityAffine();
  const fromMm = identityAffine();
  for (let a = 0; a < 3; a++) {
    toMm[a * 4 + a] = spacing[a]!;
    toMm[a * 4 + 3] = -spacing[a]! * centre[a]!;
    fromMm[a * 4 + a] = 1 / spacing[a]!;
    fromMm[a * 4 + 3] = centre[a]!;
  }
  // Sampling the input at R⁻¹·p/scale shows the content rotated by R and zoomed by `scale`.
  const inverse = invertAffine(rotationMatrix(p.rotation));
  for (let i = 0; i < 12; i++) if (i % 4 !== 3) inverse[i] = inverse[i]! / p.scale;
  const flip = identityAffine();
  for (let a = 0; a < 3; a++)
    if (p.flip[a]) {
      flip[a * 4 + a] = -1;
      flip[a * 4 + 3] = size[a]! - 1;
    }
  return multiplyAffine(fromMm, multiplyAffine(inverse, multiplyAffine(toMm, flip)));
}

/** Resamples through an index map onto the same grid; outside the input → `fill`. */
export function warp(v: Volume, map: Affine, mode: 'nearest' | 'linear', fill = 0): VoxelArray {
  const out = mode === 'nearest' ? sameType(v.data, v.data.length) : new Float32Array(v.data.length);
  const [nx, ny, nz] = v.size;
  let p = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) {
      let x = map[1]! * j + map[2]! * k + map[3]!;
      let y = map[5]! * j + map[6]! * k + map[7]!;
      let z = map[9]! * j + map[10]! * k + map[11]!;
      for (let i = 0; i < nx; i++, p++) {
        const inside = x > -0.5 && y > -0.5 && z > -0.5 && x < nx - 0.5 && y < ny - 0.5 && z < nz - 0.5;
        out[p] = !inside
          ? fill
          : mode === 'linear'
            ? trilinear(v.data, v.size, x, y, z)
            : nearest(v.data, v.size, x, y, z);
        x += map[0]!;
        y += map[4]!;
        z += map[8]!;
      }
    }
  return out;
}
