import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexToWorldAffine, readVolume, type Volume } from '@anymc3d/core/volume';

/**
 * A volume the server wrote or served, read by core's reader (the server's one NIfTI codec), with
 * its index → LPS world affine for comparing grids. Takes a path or the bytes of a response.
 */
export async function servedVolume(source: string | Uint8Array): Promise<Volume & { affine: number[] }> {
  if (typeof source === 'string') {
    const { volume } = await readVolume(source);
    return { ...volume, affine: Array.from(indexToWorldAffine(volume)) };
  }
  const dir = await mkdtemp(join(tmpdir(), 'served-'));
  try {
    const gz = source[0] === 0x1f && source[1] === 0x8b;
    const path = join(dir, gz ? 'served.nii.gz' : 'served.nii');
    await writeFile(path, source);
    return await servedVolume(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
