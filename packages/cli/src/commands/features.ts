import { tokenPrecision } from '@anymc3d/core/backbone';
import type { Device } from '@anymc3d/core/graph';
import { taskInput } from '@anymc3d/core/task';
import type { CommandModule } from 'yargs';
import { extractTokens } from '../pipeline/extract.js';
import { createProgress } from '../progress.js';
import { runCaseJobs } from '../queue/submit.js';
import { type PrecisionFlag, precisionFlag } from './precision-flag.js';
import { type ScaleFlags, scaledCases, scaleFlags } from './scale-flags.js';
import { jobBackbone, loadTaskInputs, type TaskFlags, taskFlags } from './task-flags.js';

type FeaturesArgs = TaskFlags & ScaleFlags & PrecisionFlag;

export const featuresCommand: CommandModule<TaskFlags, FeaturesArgs> = {
  command: 'features',
  describe:
    'Run the frozen backbone over every case and view of a manifest, into the feature cache (<output>/cache or $ANYMC3D_CACHE)',
  builder: (y) => precisionFlag(scaleFlags(taskFlags(y))) as never,
  handler: async (a) => {
    const t = await loadTaskInputs(a, { requireSplits: [] });
    const { cases, redis } = scaledCases(t.manifest.cases, a);
    const input = taskInput(t.manifest.card, t.inputSize);
    const progress = createProgress({ enabled: a.progress, quiet: a.quiet });
    const started = Date.now();
    const precision = tokenPrecision(t.backbone.card, a.device, a.precision);
    try {
      // With Redis the workers fill the shared cache; the local pass below then only reads it.
      const backbone = jobBackbone({ ...a, precision }, t.backbone);
      const remote = redis
        ? await runCaseJobs(
            redis,
            cases.map((c) => ({
              kind: 'extract' as const,
              backbone,
              input,
              case: { id: c.id, images: c.images },
              cacheRoot: t.cacheRoot,
            })),
            { stage: 'features', report: progress.report },
          )
        : [];
      const out = await extractTokens(cases, {
        input,
        backbone: t.backbone,
        cacheRoot: t.cacheRoot,
        precision,
        device: a.device as Device,
        ...(a.threads ? { threads: a.threads } : {}),
        report: progress.report,
      });
      progress.stop();
      const views = t.manifest.card.views.length;
      const computed = out.computed + remote.reduce((n, r) => n + r.computed, 0);
      if (!a.quiet)
        process.stdout.write(
          `${cases.length} cases × ${views} views (${precision}): ${computed} computed${redis ? ' (by the workers)' : ''}, ` +
            `${cases.length * views - computed} from the cache, ` +
            `in ${((Date.now() - started) / 1000).toFixed(1)} s → ${out.cacheDir}\n`,
        );
    } finally {
      progress.stop();
    }
  },
};
