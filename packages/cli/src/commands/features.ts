import type { Device } from '@anymc3d/core/graph';
import { taskInput } from '@anymc3d/core/task';
import type { CommandModule } from 'yargs';
import { extractTokens } from '../pipeline/extract.js';
import { createProgress } from '../progress.js';
import { loadTaskInputs, type TaskFlags, taskFlags } from './task-flags.js';

export const featuresCommand: CommandModule<TaskFlags, TaskFlags> = {
  command: 'features',
  describe:
    'Run the frozen backbone over every case and view of a manifest, into the feature cache (<output>/cache or $ANYMC3D_CACHE)',
  builder: (y) => taskFlags(y),
  handler: async (a) => {
    const t = await loadTaskInputs(a, { requireSplits: [] });
    const progress = createProgress({ enabled: a.progress, quiet: a.quiet });
    const started = Date.now();
    try {
      const out = await extractTokens(t.manifest.cases, {
        input: taskInput(t.manifest.card, t.inputSize),
        backbone: t.backbone,
        cacheRoot: t.cacheRoot,
        device: a.device as Device,
        ...(a.threads ? { threads: a.threads } : {}),
        report: progress.report,
      });
      progress.stop();
      if (!a.quiet)
        process.stdout.write(
          `${t.manifest.cases.length} cases × ${t.manifest.card.views.length} views: ${out.computed} computed, ` +
            `${t.manifest.cases.length * t.manifest.card.views.length - out.computed} from the cache, ` +
            `in ${((Date.now() - started) / 1000).toFixed(1)} s → ${out.cacheDir}\n`,
        );
    } finally {
      progress.stop();
    }
  },
};
