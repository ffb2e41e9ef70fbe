import { readCaseImage } from '@anymc3d/core/datasets';
import { type PluginInput, prepareVolume } from '@anymc3d/core/plugin';
import type { ManifestCase } from '@anymc3d/core/task';
import type { Volume } from '@anymc3d/core/volume';

/**
 * The volume each of a case's first `views` views reads, prepared as the plugin's input says
 * (`prepareVolume`), in the card's view order. A file that several views read (axial, coronal
 * and sagittal views of one volume) is read and normalised once and shared.
 */
export async function caseViewVolumes(c: ManifestCase, input: PluginInput, views: number): Promise<Volume[]> {
  const byPath = new Map<string, Volume>();
  const out: Volume[] = [];
  for (const path of c.images.slice(0, views)) {
    let volume = byPath.get(path);
    if (!volume) {
      volume = prepareVolume(input, await readCaseImage(path));
      byPath.set(path, volume);
    }
    out.push(volume);
  }
  return out;
}
