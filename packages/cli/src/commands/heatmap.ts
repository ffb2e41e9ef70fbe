import { join } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters/registry';
import { caseHeatmaps, writeHeatmapOutputs } from '@anymc3d/core/heatmap';
import {
  inputViews,
  PLUGIN_CARD,
  pluginInput,
  prepareCaseVolume,
  readPlugin,
  readPluginCard,
} from '@anymc3d/core/plugin';
import { InputError } from '@anymc3d/core/util';
import { readVolume, volumeStem } from '@anymc3d/core/volume';
import type { Argv, CommandModule } from 'yargs';
import { writeCliCaseReport } from '../pipeline/case-report.js';
import { createProgress } from '../progress.js';
import { type PluginPrecisionFlag, pluginPrecisionFlag, precisionFor } from './precision-flag.js';

interface HeatmapArgs extends PluginPrecisionFlag {
  input: string[];
  output: string;
  plugin: string;
  label?: string;
  png: boolean;
  report: boolean;
  backbone?: string;
  'weights-root'?: string;
  threads?: number;
  json: boolean;
  quiet: boolean;
  progress: boolean;
}

/**
 * The images given: one that every view reads, or one per view in the plugin's order (a plugin whose
 * views are different sequences, e.g. T1 and T2, reads each from its own file, as it was trained).
 */
function inputPaths(given: readonly string[], views: readonly { name: string }[], plugin: string): string[] {
  if (given.length === 1 || given.length === views.length) return [...given];
  throw new InputError(
    '--input',
    `${given.length} images were given; give one (every view reads it) or one per view of ${plugin}, in its order: ${views.map((v) => v.name).join(', ')}`,
  );
}

export const heatmapCommand: CommandModule<object, HeatmapArgs> = {
  command: 'heatmap',
  describe:
    'Heatmap of one volume for a plugin label: NIfTI of 0–1 on the input grid (16-bit codes, scl_slope 1/65535), JSON summary, optional PNG',
  builder: (y) =>
    pluginPrecisionFlag(y)
      .option('input', {
        alias: 'i',
        type: 'string',
        array: true,
        demandOption: true,
        describe:
          "Volume (NIfTI, NRRD, MHA, DICOM file or series folder): once (every view reads it) or once per plugin view in the plugin's view order (e.g. -i t1.nii.gz -i t2.nii.gz), all on one grid",
      })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'Output folder' })
      .option('plugin', {
        alias: 'p',
        type: 'string',
        demandOption: true,
        describe: 'Plugin folder (plugin.json + plugin.safetensors)',
      })
      .option('label', { type: 'string', describe: "Label to explain (default: the plugin's first)" })
      .option('png', {
        type: 'boolean',
        default: false,
        describe: 'Also write a montage (PNG + SVG): the top slices of each view, input beside overlay, titled',
      })
      .option('report', {
        type: 'boolean',
        default: false,
        describe:
          'Also write report.html: self-contained (opens offline), montage, probabilities against thresholds, provenance',
      })
      .option('backbone', {
        alias: 'b',
        type: 'string',
        describe: "Backbone name or weights folder (default: the plugin's)",
      })
      .option('weights-root', {
        type: 'string',
        describe: 'Folder holding <name>/ weight folders (default $ANYMC3D_WEIGHTS)',
      })
      .option('threads', { type: 'number', describe: 'ONNX Runtime intra-op threads' })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'Print the summary as JSON on stdout',
      }) as unknown as Argv<HeatmapArgs>,
  handler: async (args) => {
    const card = await readPluginCard(args.plugin);
    const precision = precisionFor(card, args.precision, args.plugin);
    const backbone = await resolveBackbone(args.backbone ?? card.backbone?.name ?? '', {
      ...(args['weights-root'] ? { weightsRoot: args['weights-root'] } : {}),
    });
    const { weights } = await readPlugin(args.plugin, { name: backbone.card.name, weightHash: backbone.weightHash });
    // The volume and views exactly as the plugin was trained on them (MRI z-scored per volume, each view on its axis).
    const input = pluginInput(card, join(args.plugin, PLUGIN_CARD));
    const paths = inputPaths(args.input, input.views, args.plugin);
    // Each image normalised on its own, as training and predict prepare each view's image.
    const volumes = await Promise.all(
      paths.map(async (p) => prepareCaseVolume((await readVolume(p)).volume, input, p).volume),
    );
    const volume = volumes[0]!;
    const views = inputViews(input, backbone.card);
    const progress = createProgress({ enabled: args.progress, quiet: args.quiet });
    const result = await caseHeatmaps({
      volume,
      views,
      backbone,
      plugin: { card, weights, source: args.plugin },
      ...(paths.length > 1 ? { volumes, volumeSources: paths } : {}),
      ...(args.label !== undefined ? { label: args.label } : {}),
      ...(args.threads ? { threads: args.threads } : {}),
      precision,
      onProgress: (p) => progress.report({ stage: `heatmap ${p.view}`, done: p.done, total: p.total }),
    }).finally(() => progress.stop());
    const files = await writeHeatmapOutputs(args.output, result, {
      image: volume,
      view: views[0]!,
      png: args.png || args.report,
      caption: { caseId: volumeStem(paths[0]!), plugin: `${card.task} plugin` },
      // input: the grid the map is on (the first view's image); inputs: each view's, when they differ.
      provenance: {
        input: paths[0],
        ...(paths.length > 1 ? { inputs: paths } : {}),
        plugin: args.plugin,
        precision,
      },
    });
    if (args.report) {
      files.report = await writeCliCaseReport(join(args.output, 'report.html'), {
        caseId: volumeStem(paths[0]!),
        card,
        pluginDir: args.plugin,
        probabilities: card.labels.map((l) => result.summary.probabilities[l]!),
        backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
        input: paths,
        montages: [{ label: result.summary.label, png: files.png! }],
      });
    }
    if (args.json) process.stdout.write(`${JSON.stringify({ ...result.summary, files }, null, 2)}\n`);
    else if (!args.quiet) {
      const s = result.summary;
      process.stdout.write(
        `${s.label}: p=${s.probability.toFixed(4)} (${s.method}); peak at voxel ${s.peak.voxel.join(',')} ` +
          `= RAS ${s.peak.worldRAS.map((x) => x.toFixed(1)).join(', ')} mm\n` +
          `${[files.nifti, files.json, files.png, files.report].filter(Boolean).join('\n')}\n`,
      );
    }
  },
};
