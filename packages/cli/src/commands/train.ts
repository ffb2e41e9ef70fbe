import { casesOf, pluginTaskOf, taskInput } from '@anymc3d/core/task';
import type { CommandModule } from 'yargs';
import { extractTokens, featureCases } from '../pipeline/extract.js';
import { fitPlugin } from '../pipeline/fit.js';
import { createProgress } from '../progress.js';
import { loadTaskInputs, parseCounts, parseRates, type TaskFlags, taskFlags } from './task-flags.js';

interface TrainArgs extends TaskFlags {
  steps: string;
  lr: string;
  'batch-size': number;
  criterion: string;
  seed: number;
}

export const trainCommand: CommandModule<TaskFlags, TrainArgs> = {
  command: 'train',
  describe: 'Train a plugin on cached frozen tokens (train split); choose steps and thresholds on the val split',
  builder: (y) =>
    taskFlags(y)
      .option('steps', { type: 'string', default: '300,1000', describe: 'Candidate step counts, chosen on val' })
      .option('lr', {
        type: 'string',
        default: '3e-2',
        describe:
          'Learning rate(s) of the plugin (AdamW, cosine schedule); several, comma-separated, are chosen on val',
      })
      .option('batch-size', { type: 'number', default: 32, describe: 'Cases per optimiser step' })
      .option('criterion', {
        type: 'string',
        default: 'f1',
        choices: ['f1', 'youden'],
        describe: 'Threshold criterion on val',
      })
      .option('seed', { type: 'number', default: 0, describe: 'Seed of initialisation and batch order' }),
  handler: async (a) => {
    const steps = parseCounts(a.steps, '--steps');
    const lrs = parseRates(a.lr, '--lr');
    const t = await loadTaskInputs(a);
    const card = t.manifest.card;
    const train = casesOf(t.manifest, 'train');
    const val = casesOf(t.manifest, 'val');
    const progress = createProgress({ enabled: a.progress, quiet: a.quiet });
    const started = Date.now();
    try {
      const extracted = await extractTokens([...train, ...val], {
        input: taskInput(card, t.inputSize),
        backbone: t.backbone,
        cacheRoot: t.cacheRoot,
        device: a.device as 'cpu' | 'cuda',
        ...(a.threads ? { threads: a.threads } : {}),
        report: progress.report,
      });
      const fitted = await fitPlugin({
        task: pluginTaskOf(card, t.inputSize),
        backbone: { name: t.backbone.card.name, weightHash: t.backbone.weightHash },
        train: featureCases(train, extracted.tokens, card),
        val: featureCases(val, extracted.tokens, card),
        steps,
        lrs,
        optim: { batchSize: a['batch-size'], warmup: Math.min(20, Math.min(...steps)), seed: a.seed },
        criterion: a.criterion as 'f1' | 'youden',
        outDir: t.outDir,
        data: t.manifest.source,
        ...(a.threads ? { threads: a.threads } : {}),
        report: progress.report,
      });
      progress.stop();
      if (!a.quiet)
        process.stdout.write(
          `val (${val.length} cases): ${fitted.attempts.map((x) => `lr ${x.lr} × ${x.steps} steps AUC=${x.valAuroc?.toFixed(3) ?? 'n/a'}`).join(', ')}` +
            ` → lr ${fitted.chosen.lr}, ${fitted.chosen.steps} steps; thresholds ${fitted.thresholds.map((x) => x?.toFixed(3) ?? '0.5 (one class in val)').join(', ')}\n` +
            `plugin → ${fitted.pluginDir} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
        );
    } finally {
      progress.stop();
    }
  },
};
