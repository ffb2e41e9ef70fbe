import type { PluginInput } from '@anymc3d/core/plugin';
import { SLICE_AXES } from '@anymc3d/core/task';
import { InputError } from '@anymc3d/core/util';

const AXES: readonly string[] = SLICE_AXES;

/**
 * Refuses a plugin the server cannot feed from the one volume uploaded per case. A single view
 * reads that volume whatever it is called. Several views read it only when each is named after an
 * axis (axial, coronal, sagittal): core's convention for views of one volume, the one legacy cards
 * and `anymc3d demo` follow. Any other name (e.g. `t1`, `t2`) is a view of its own image, which
 * the server does not receive, so serving it the upload would give a probability predict never gives.
 */
export function checkServedViews(input: Pick<PluginInput, 'views'>, source: string): void {
  if (input.views.length <= 1) return;
  const other = input.views.filter((v) => !AXES.includes(v.name)).map((v) => v.name);
  if (other.length === 0) return;
  throw new InputError(
    source,
    `the server serves one uploaded volume per case; this plugin's views ${input.views.map((v) => v.name).join(', ')} ` +
      `include views that read other images (${other.join(', ')}). A multi-view plugin is served only when every view ` +
      `is named after an axis (${SLICE_AXES.join(', ')}), i.e. all its views are views of one volume`,
  );
}
