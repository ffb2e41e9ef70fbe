import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { comparisonPlotSpec, differencesPlotSpec, plotSvg, writePlot } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'anymc3d-plot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const points = [
  { task: 'medmnist-adrenal', backbone: 'mobilenet_v1_224', mode: 'probe', auroc: 0.776, lo: 0.713, hi: 0.831 },
  { task: 'medmnist-adrenal', backbone: 'mobilenet_v1_224', mode: 'attn', auroc: 0.769, lo: 0.706, hi: 0.825 },
  { task: 'medmnist-adrenal', backbone: 'mobilenet_v1_224', mode: 'lora', auroc: 0.732, lo: 0.67, hi: 0.791 },
  { task: 'ct-rate-18', backbone: 'mobilenet_v1_224', mode: 'probe', auroc: 0.641, lo: 0.6, hi: 0.68 },
];

/** Text drawn in the SVG (vega writes each label as a <text> element). */
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);

describe('plots', () => {
  it('the benchmark comparison names its tasks, axes, modes and backbones, and renders to a filled PNG', async () => {
    const svg = await plotSvg(comparisonPlotSpec(points));
    const words = texts(svg);
    for (const expected of [
      'Test AUROC per task',
      'Task',
      'Test AUROC and 95% interval',
      'medmnist-adrenal',
      'ct-rate-18',
      'Mode',
      'probe: slice mean + linear head',
      'attn: frozen tokens + task-query pooling',
      'lora: LoRA + task query + head (the method)',
      'Backbone',
      'mobilenet_v1_224',
    ])
      expect(words, expected).toContain(expected);
    const files = await writePlot(dir, 'auroc', comparisonPlotSpec(points));
    expect(JSON.parse(readFileSync(files.spec, 'utf8')).data.values).toHaveLength(4);
    const png = PNG.sync.read(readFileSync(files.png));
    expect(png.width).toBeGreaterThan(400);
    // Text was drawn: dark pixels beyond the plotted marks (a machine without fonts would leave none).
    let dark = 0;
    for (let i = 0; i < png.data.length; i += 4)
      if (png.data[i]! < 80 && png.data[i + 1]! < 80 && png.data[i + 2]! < 80) dark++;
    expect(dark).toBeGreaterThan(2000);
  });

  it('paired differences show each comparison, the zero line and the tasks', async () => {
    const svg = await plotSvg(
      differencesPlotSpec([
        {
          comparison: 'mobilenet_v2_224 − mobilenet_v1_224, probe',
          task: 'medmnist-adrenal',
          difference: 0.037,
          lo: -0.011,
          hi: 0.083,
          p: 0.145,
        },
        {
          comparison: 'attn − probe on mobilenet_v1_224',
          task: 'medmnist-adrenal',
          difference: -0.006,
          lo: -0.022,
          hi: 0.01,
          p: 0.49,
        },
      ]),
    );
    const words = texts(svg);
    expect(words).toContain('mobilenet_v2_224 − mobilenet_v1_224, probe');
    expect(words).toContain('attn − probe on mobilenet_v1_224');
    expect(words).toContain('AUROC difference A − B and 95% paired bootstrap interval');
    expect(words).toContain('Task');
    expect(words).toContain('+0.00');
    expect(svg).toContain('stroke-dasharray="5,4"');
  });
});
