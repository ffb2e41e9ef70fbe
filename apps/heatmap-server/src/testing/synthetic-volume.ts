import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeVolume } from '@anymc3d/core/volume';

/**
 * A small test upload (.nii.gz bytes, written by core's writer): an ellipsoid "body" (value 100)
 * with a brighter sphere (value 400) in a dark background (-1000), 1.5 × 1.5 × 3 mm voxels,
 * axis-aligned at a non-zero origin.
 */
export async function syntheticVolume(dims: [number, number, number] = [48, 40, 24]): Promise<Uint8Array> {
  const [nx, ny, nz] = dims;
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
  const dir = await mkdtemp(join(tmpdir(), 'synthetic-volume-'));
  try {
    const path = join(dir, 'volume.nii.gz');
    // RAS origin (−30, −20, 10) mm is LPS (30, 20, 10); the direction is LPS's identity.
    await writeVolume(
      {
        data,
        size: dims,
        spacing: [1.5, 1.5, 3],
        origin: [30, 20, 10],
        direction: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1),
      },
      path,
    );
    return new Uint8Array(await readFile(path));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
