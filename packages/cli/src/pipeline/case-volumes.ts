import { readCaseImage } from '@anymc3d/core/datasets';
import { type PluginInput, prepareCaseVolume } from '@anymc3d/core/plugin';
import type { ManifestCase } from '@anymc3d/core/task';
import type { Processed } from '@anymc3d/core/volume';

/**
 * The volume each of a case's first `views` views reads, prepared by the plugin's recipe
 * (`prepareCaseVolume`: HU, normalisation, orientation, spacing), in the card's view order. A file
 * that several views read (axial, coronal and sagittal views of one volume) is read and prepared
 * once and shared.
 */
export async function caseViewVolumes(c: ManifestCase, input: PluginInput, views: number): Promise<Processed[]> {
  const byPath = new Map<string, Processed>();
  const out: Processed[] = [];
  for (const path of c.images.slice(0, views)) {
    let volume = byPath.get(path);
    if (!volume) {
      volume = prepareCaseVolume(await readCaseImage(path), input, path).volume;
      byPath.set(path, volume);
    }
    out.push(volume);
  }
  return out;
}
