/**
 * One CT end to end, as `anymc3d heatmap --png` runs it: read a 512×512×300 int16 .nii.gz →
 * the plugin's recipe (HU, LPS, spacing) → the backbone over every view → the plugin and its
 * heatmap mapped back to the input grid → write the NIfTI, JSON and montage. Per stage wall time
 * and the process's peak RSS, for the shipped MobileNet (three views at 64²) and a ViT-S/14 with
 * random weights (axial at 224²). Goal (#20 P4): everything but the backbone ≤ 3 s and ≤ 1.5 GiB.
 *
 *   node bench/dist/ct-end-to-end.js [--threads 2] [--models mobilenet,vits,vits-int8]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadFolder, resolveBackbone } from '@anymc3d/adapters/registry';
import { type Backbone, BackboneEmbedder, tokenPrecision } from '@anymc3d/core/backbone';
import type { Precision } from '@anymc3d/core/graph';
import { caseHeatmaps, heatmapEmbedOptions, writeHeatmapOutputs } from '@anymc3d/core/heatmap';
import { embedVolume, type VolumeEmbedding } from '@anymc3d/core/pipeline';
import {
  addViewQueries,
  initPluginWeights,
  inputViews,
  type PluginCard,
  pluginBackbone,
  pluginInput,
  prepareCaseVolume,
  readPlugin,
  savePlugin,
  servedPrecision,
} from '@anymc3d/core/plugin';
import { testPluginCard } from '@anymc3d/core/testing';
import { transparentHugePages } from '@anymc3d/core/util';
import { readVolume } from '@anymc3d/core/volume';
import { appendResults, type Cell, markdownTable, measureLoad } from './harness.js';
import { writeRandomVit } from './random-vit.js';

const run = promisify(execFile);
const READ_PEER = fileURLToPath(new URL('../python/read_volume.py', import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

interface Setup {
  label: string;
  backbone: Backbone;
  views: PluginCard['views'];
  axis: PluginCard['axis'];
  size: number;
  /** The tokens' arithmetic the plugin records (as `train` records it), so `heatmap` serves it in that. */
  precision: Precision;
}

/**
 * A model of the bench: `mobilenet` (the shipped one, three views at 64²), `vits` (ViT-S/14,
 * random weights, axial at 224²) and `vits-int8` (the same at int8: the backbone at the P1 rate).
 * Each plugin records the tokens' arithmetic `train` would give it (the card's default on the CPU,
 * or int8 where the model says so), and the case is served in it, as `heatmap` serves it.
 */
let randomVitS: Promise<Backbone> | undefined;

async function setupFor(model: string, root: string): Promise<Setup> {
  if (model === 'mobilenet') {
    const backbone = await resolveBackbone('mobilenet_v1_224');
    const precision = tokenPrecision(backbone.card, 'cpu');
    return {
      label: `MobileNet v1 (shipped), axial + coronal + sagittal at 64², ${precision}`,
      backbone,
      views: ['axial', 'coronal', 'sagittal'],
      axis: 'axial',
      size: 64,
      precision,
    };
  }
  if (model !== 'vits' && model !== 'vits-int8') throw new Error(`unknown model ${model} (mobilenet, vits, vits-int8)`);
  // Written and loaded once for both of its rows.
  const dir = join(root, 'vits');
  randomVitS ??= writeRandomVit(dir, 'S').then(() => loadFolder(dir));
  const backbone = await randomVitS;
  const precision = tokenPrecision(backbone.card, 'cpu', model === 'vits-int8' ? 'int8' : undefined);
  return {
    label: `ViT-S/14 (random weights), axial at 224², ${precision}`,
    backbone,
    views: ['axial'],
    axis: 'axial',
    size: 224,
    precision,
  };
}

async function writePluginFor(s: Setup, dir: string): Promise<void> {
  const dim = s.backbone.card.embedDim;
  const card = testPluginCard({
    task: 'ct-end-to-end',
    labels: ['Lung nodule', 'Pleural effusion'],
    views: s.views,
    axis: s.axis,
    windows: [[-1350, 150]],
    inputSize: [s.size, s.size],
    dim,
    backbone: pluginBackbone(s.backbone, s.precision),
    input: {
      views: s.views.map((name) => ({ name, axis: name as 'axial' | 'coronal' | 'sagittal' })),
      size: [s.size, s.size],
      channels: { replicate: true, range: [-1350, 150] },
      normalisation: null,
      intensity: 'ct-hu',
      orientation: 'LPS',
      spacing: [1.5, 1.5, 3],
    } as PluginCard['input'],
  });
  const single = initPluginWeights({ dim, labels: card.labels, kind: 'multilabel', loss: 'bce' }, 1);
  await savePlugin(dir, card, s.views.length > 1 ? addViewQueries(single, s.views.length, 1) : single);
}

/**
 * What first touching fresh memory costs now: on this VM ~2 µs per 4 KiB page the guest has
 * touched before and ~12 where the host must back it first, and a CT's stages touch 0.3–1.5 GB, so
 * the state of the machine's memory moves "all but the backbone" by up to a second. Time and page
 * faults of filling 64 MiB (few faults when malloc hands back memory this process freed).
 */
function freshMemoryProbe(): { ms: number; faults: number } {
  const faults = process.resourceUsage().minorPageFault;
  const t = performance.now();
  new Uint8Array(64 << 20).fill(1);
  return { ms: performance.now() - t, faults: process.resourceUsage().minorPageFault - faults };
}

async function timeCase(s: Setup, ct: string, pluginDir: string, out: string, threads: number) {
  const stages: Record<string, number> = {};
  const faults: Record<string, number> = {};
  let t = performance.now();
  let faulted = process.resourceUsage().minorPageFault;
  const lap = (name: string) => {
    const now = performance.now();
    const f = process.resourceUsage().minorPageFault;
    stages[name] = (now - t) / 1000;
    faults[name] = f - faulted;
    t = now;
    faulted = f;
  };
  const { card, weights } = await readPlugin(pluginDir, {
    name: s.backbone.card.name,
    weightHash: s.backbone.weightHash,
  });
  const input = pluginInput(card);
  const precision = servedPrecision(card);
  const { volume: raw } = await readVolume(ct);
  lap('read');
  const volume = prepareCaseVolume(raw, input, ct).volume;
  const views = inputViews(input, s.backbone.card);
  lap('recipe');
  const embedder = new BackboneEmbedder(s.backbone, { threads, precision });
  const embeddings: VolumeEmbedding[] = [];
  for (const view of views) embeddings.push(await embedVolume(volume, view, embedder, heatmapEmbedOptions(s.backbone)));
  await embedder.release();
  lap('backbone');
  const result = await caseHeatmaps({
    volume,
    views,
    backbone: s.backbone,
    plugin: { card, weights, source: pluginDir },
    embeddings,
    threads,
    precision,
  });
  lap('plugin + heatmap');
  await writeHeatmapOutputs(out, result, {
    image: volume,
    view: views[0]!,
    png: true,
    caption: { caseId: 'ct-512x512x300', plugin: 'ct-end-to-end plugin' },
  });
  lap('write (NIfTI, JSON, montage)');
  return { stages, faults, slices: embeddings.reduce((n, e) => n + e.cls.dims[0]!, 0) };
}

async function main(): Promise<void> {
  const threads = Number(arg('threads', '2'));
  const models = arg('models', 'mobilenet,vits,vits-int8').split(',');
  const root = await mkdtemp(join(tmpdir(), 'ct-end-to-end-'));
  try {
    const ct = join(root, 'ct-512x512x300.nii.gz');
    await run('/usr/bin/python3', [READ_PEER, 'make', ct]);
    const rows: Cell[][] = [];
    const ratios: string[] = [];
    const pageNotes: string[] = [];
    const { load } = await measureLoad(async () => {
      for (const model of models) {
        const setup = await setupFor(model, root);
        const pluginDir = join(root, `plugin-${model}`);
        await writePluginFor(setup, pluginDir);
        // Each model in its own measurement: peak RSS is per process, so the ViT runs after MobileNet's peak.
        const rssBefore = peakRssMiB();
        const probe = freshMemoryProbe();
        const { stages, faults, slices } = await timeCase(setup, ct, pluginDir, join(root, `out-${model}`), threads);
        const rss = peakRssMiB();
        const total = Object.values(stages).reduce((a, b) => a + b, 0);
        const aside = total - stages.backbone!;
        rows.push([setup.label, slices, ...Object.values(stages), total, aside, rss]);
        ratios.push(
          `${setup.label}: everything but the backbone ${aside.toFixed(2)} s of ${total.toFixed(2)} s (goal ≤ 3 s ${aside <= 3 ? 'met' : 'NOT met'}); peak RSS ${(rss / 1024).toFixed(2)} GiB (goal ≤ 1.5 GiB ${rss <= 1536 ? 'met' : 'NOT met'}; ${rssBefore.toFixed(0)} MiB before this model)`,
        );
        pageNotes.push(
          `${setup.label}: minor page faults by stage (thousands) ${Object.entries(faults)
            .map(([stage, n]) => `${stage} ${(n / 1000).toFixed(1)}`)
            .join(
              ', ',
            )}; filling 64 MiB just before took ${probe.ms.toFixed(0)} ms and ${probe.faults} page faults${probe.faults >= 1000 ? ` (${((probe.ms * 1000) / probe.faults).toFixed(1)} µs each)` : ''}.`,
        );
        process.stderr.write(`${ratios.at(-1)}\n${pageNotes.at(-1)}\n`);
      }
    });
    const table = markdownTable(
      [
        'backbone',
        'slices',
        'read s',
        'recipe s',
        'backbone s',
        'plugin + heatmap s',
        'write s',
        'total s',
        'all but backbone s',
        'peak RSS MiB',
      ],
      rows,
    );
    process.stdout.write(`${table}\n`);
    await appendResults(
      {
        title: 'One CT end to end (512×512×300 int16 .nii.gz → heatmap, NIfTI + JSON + montage)',
        command: `node bench/dist/ct-end-to-end.js --threads ${threads} --models ${models.join(',')}`,
        table,
        ratios,
        notes: [
          'The CT: bench/python/read_volume.py make (synthetic, CT-RATE size, gzip level 6). Recipe: HU, LPS, 1.5×1.5×3 mm, one window replicated; the plugin has random head weights (its cost, not its answer, is measured).',
          `ONNX Runtime ${threads} threads; peak RSS is the process's maximum so far (models run in this order in one process).`,
          `GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? '(unset)'}; kernel transparent huge pages: ${transparentHugePages()} (glibc.malloc.hugetlb=1 is README's "Memory pages" setting).`,
          ...pageNotes,
        ],
      },
      load,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
