import { join, resolve } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters/registry';
import { type Backbone, tokenPrecision } from '@anymc3d/core/backbone';
import { readCaseImage } from '@anymc3d/core/datasets';
import { safeName } from '@anymc3d/core/features';
import { DEVICES, type Device, type Precision } from '@anymc3d/core/graph';
import { caseHeatmaps, pluginEmbedder, writeHeatmapOutputs } from '@anymc3d/core/heatmap';
import type { Interval } from '@anymc3d/core/metrics';
import { inputViews, pluginInput, prepareCaseVolume, readPlugin } from '@anymc3d/core/plugin';
import type { Manifest } from '@anymc3d/core/task';
import type { CommandModule } from 'yargs';
import { DEMO_FILES, type DemoResolution, demoManifest, PUBLISHED } from '../demo/adrenal.js';
import { runTask } from '../pipeline/run-task.js';
import { createProgress } from '../progress.js';
import { type PrecisionFlag, precisionFlag } from './precision-flag.js';
import { type GlobalFlags, parseCounts, parseRates } from './task-flags.js';

interface DemoArgs extends GlobalFlags, PrecisionFlag {
  output: string;
  device: string;
  resolution: number;
  'input-size': number;
  steps: string;
  criterion: string;
  lr: string;
  'batch-size': number;
  threads?: number;
}

const BACKBONE = 'mobilenet_v1_224';
const fmt = (x: number | null | undefined, digits: number) =>
  x === null || x === undefined ? 'n/a' : x.toFixed(digits);
const ci = (i: Interval | null | undefined, digits: number) =>
  i ? `[${fmt(i.lo, digits)}, ${fmt(i.hi, digits)}]` : '[n/a]';

export const demoCommand: CommandModule<GlobalFlags, DemoArgs> = {
  command: 'demo',
  describe: 'Train and test a 3-view AdrenalMNIST3D classifier on the shipped ImageNet MobileNet v1 (embedded data)',
  builder: (y) =>
    precisionFlag(y)
      .option('output', {
        alias: 'o',
        type: 'string',
        default: 'anymc3d-demo',
        describe: 'Output folder (cache, plugins, predictions)',
      })
      .option('device', {
        alias: 'd',
        type: 'string',
        default: 'cpu',
        choices: [...DEVICES],
        describe: 'Where the backbone runs',
      })
      .option('resolution', {
        type: 'number',
        default: 64,
        choices: [28, 64],
        describe: 'Which embedded AdrenalMNIST3D file: 28³ or 64³',
      })
      .option('input-size', { type: 'number', default: 64, describe: 'Slice side fed to the backbone (pixels)' })
      .option('steps', {
        type: 'string',
        default: '100,300,1000',
        describe: 'Candidate training step counts, chosen on val',
      })
      .option('criterion', {
        type: 'string',
        default: 'f1',
        choices: ['f1', 'youden'],
        describe: 'Threshold criterion on val',
      })
      .option('lr', {
        type: 'string',
        default: '3e-3,1e-2,3e-2',
        describe: 'Candidate learning rates of the plugin (AdamW, cosine schedule), chosen on val with the steps',
      })
      .option('batch-size', { type: 'number', default: 32, describe: 'Cases per optimiser step' })
      .option('threads', { type: 'number', describe: 'ONNX Runtime threads (default: all cores)' }),
  handler: async (args) => {
    const started = Date.now();
    const say = (line: string) => {
      if (!args.quiet) process.stdout.write(`${line}\n`);
    };
    const steps = parseCounts(args.steps, '--steps');
    const lrs = parseRates(args.lr, '--lr');
    const resolution = args.resolution as DemoResolution;
    const outDir = resolve(args.output);
    const cacheRoot = process.env.ANYMC3D_CACHE ? resolve(process.env.ANYMC3D_CACHE) : resolve(outDir, 'cache');
    const manifest = await demoManifest(resolution);
    const backbone = await resolveBackbone(BACKBONE);
    const precision = tokenPrecision(backbone.card, args.device, args.precision);
    const size = args['input-size'];
    say(
      `AdrenalMNIST3D ${resolution}³ (${DEMO_FILES[resolution].split('/').pop()}, MedMNIST v2, CC BY 4.0): ${manifest.cases.length} cases`,
    );
    say(
      `frozen ${BACKBONE} (ImageNet; ${precision === 'int8' ? 'int8, its uint8 integer network' : 'fp32'}) at ${size}×${size}; views axial, coronal, sagittal, each pooled by its own query, then fused`,
    );
    const progress = createProgress({ enabled: args.progress, quiet: args.quiet });
    let run: Awaited<ReturnType<typeof runTask>>;
    try {
      run = await runTask({
        manifest,
        backbone,
        inputSize: [size, size],
        outDir,
        cacheRoot,
        steps,
        lrs,
        optim: { batchSize: args['batch-size'], warmup: 20 },
        criterion: args.criterion as 'f1' | 'youden',
        bootstrap: 1000,
        device: args.device as Device,
        precision,
        ...(args.threads ? { threads: args.threads } : {}),
        report: progress.report,
      });
    } finally {
      progress.stop();
    }
    const { fitted, evaluation: e, intervals } = run;
    say(
      `val (${manifest.cases.filter((c) => c.split === 'val').length} cases) chooses: ` +
        fitted.attempts.map((a) => `lr ${a.lr} × ${a.steps} steps AUC=${fmt(a.valAuroc, 3)}`).join(', ') +
        ` → lr ${fitted.chosen.lr}, ${fitted.chosen.steps} steps; threshold (${args.criterion}) ${fitted.thresholds.map((t) => fmt(t, 3)).join(', ')}`,
    );
    process.stdout.write(
      `test AUC=${fmt(e.macro.auroc, 3)} ${ci(intervals?.macro.auroc, 2)} ACC=${fmt(e.macro.accuracy, 2)} ${ci(intervals?.macro.accuracy, 2)}` +
        ` (${e.cases} cases, 95% bootstrap intervals, 1000 resamples)\n`,
    );
    say('published, MedMNIST v2 test split at 28³ (Yang et al., Scientific Data 10:41, 2023):');
    for (const p of PUBLISHED)
      say(
        `  ${p.model.padEnd(16)} AUC=${p.auc.toFixed(3)} ACC=${p.acc.toFixed(3)}${p.source === 'recalled' ? "  (recalled from the paper's table, not checked)" : '  (benchmark page)'}`,
      );
    say(`predictions: ${run.predictionFiles.join(', ')}`);
    const heatmapDir = await demoHeatmaps(manifest, backbone, run.fitted.pluginDir, outDir, precision, args.threads);
    say(`heatmaps (3 positive test cases: NIfTI on the input grid, PNG montage, JSON): ${heatmapDir}`);
    say(
      `time: features ${run.seconds.features.toFixed(1)}s (${run.computedEntries} case-views through the backbone), ` +
        `train+select ${run.seconds.train.toFixed(1)}s, total ${((Date.now() - started) / 1000).toFixed(1)}s`,
    );
  },
};

/** Heatmaps of the first three positive test cases: what the plugin looked at, for a person to check. */
async function demoHeatmaps(
  manifest: Manifest,
  backbone: Backbone,
  pluginDir: string,
  outDir: string,
  precision: Precision,
  threads: number | undefined,
): Promise<string> {
  const id = { name: backbone.card.name, weightHash: backbone.weightHash };
  const { card, weights } = await readPlugin(pluginDir, id);
  const input = pluginInput(card, pluginDir);
  const views = inputViews(input, backbone.card);
  const dir = join(outDir, 'heatmaps');
  const positives = manifest.cases.filter((c) => c.split === 'test' && c.labels[0] === 1).slice(0, 3);
  const plugin = { card, weights, source: pluginDir };
  // The demo's plugin is frozen: one embedder (its session built once) serves every case.
  const embedder = pluginEmbedder(backbone, plugin, 0, { precision, ...(threads ? { threads } : {}) });
  try {
    for (const c of positives) {
      const volume = prepareCaseVolume(await readCaseImage(c.images[0]!), input, c.images[0]!).volume;
      const result = await caseHeatmaps({ volume, views, backbone, plugin, precision, embedder });
      await writeHeatmapOutputs(join(dir, safeName(c.id)), result, {
        image: volume,
        view: views[0]!,
        png: true,
        caption: { caseId: c.id, plugin: `${card.task} plugin` },
        provenance: { case: c.id, plugin: pluginDir, precision },
      });
    }
  } finally {
    await embedder.release();
  }
  return dir;
}
