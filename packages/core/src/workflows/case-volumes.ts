import { readCaseImage } from '../datasets/index.js';
import { type PluginInput, prepareCaseVolume } from '../plugin/index.js';
import type { ManifestCase } from '../task/index.js';
import type { Processed, Rescale } from '../volume/index.js';

/**
 * The volume each of a case's first `views` views reads, prepared by the plugin's recipe
 * (`prepareCaseVolume`: HU, normalisation, orientation, spacing), in the card's view order. A file
 * that several views read (axial, coronal and sagittal views of one volume) is read and prepared
 * once and shared.
 */
export async function caseViewVolumes(
  c: ManifestCase,
  input: PluginInput,
  views: number,
  /** The rescale of a raw CT file (e.g. CT-RATE v1's metadata); never applied to voxels already in HU. */
  rescaleOf?: (path: string) => Rescale | undefined,
): Promise<Processed[]> {
  const byPath = new Map<string, Processed>();
  const out: Processed[] = [];
  for (const path of c.images.slice(0, views)) {
    let volume = byPath.get(path);
    if (!volume) {
      volume = prepareCaseVolume(await readCaseImage(path), input, path, rescaleOf?.(path)).volume;
      byPath.set(path, volume);
    }
    out.push(volume);
  }
  return out;
}
