import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ADAPTERS_VERSION } from '@anymc3d/adapters';
import { CORE_VERSION } from '@anymc3d/core';
import { PLUGIN_CARD, PLUGIN_WEIGHTS } from '@anymc3d/core/plugin';
import { writeFileAtomic } from '@anymc3d/core/util';
import { CLI_VERSION } from '../version.js';

export interface PredictionRows {
  labels: readonly string[];
  ids: readonly string[];
  /**
   * [case][label]: binary and multi-label with thresholds folded so 0.5 is each label's operating
   * point; multi-class the softmax probabilities (summing to 1), decided by arg max.
   */
  probabilities: readonly (readonly number[])[];
  /** Multi-class plugins: predictions.json names each case's arg-max class. */
  multiclass?: boolean;
}

/** A CSV field, quoted when it holds a separator, quote or line break. */
const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** sha256 of the plugin's weights and card, as the provenance names the plugin. */
export async function pluginHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of [PLUGIN_WEIGHTS, PLUGIN_CARD]) h.update(await readFile(join(dir, f)));
  return h.digest('hex');
}

/**
 * predictions.json + predictions.csv (one row per case, one column per label, spelled as the
 * card spells them) and provenance.json beside them (versions, backbone, plugin, timing, …).
 */
export async function writePredictions(
  outDir: string,
  rows: PredictionRows,
  provenance: Record<string, unknown>,
): Promise<string[]> {
  const json = rows.ids.map((id, i) => {
    const p = rows.probabilities[i]!;
    return {
      id,
      probabilities: Object.fromEntries(rows.labels.map((l, k) => [l, p[k]!])),
      ...(rows.multiclass ? { class: rows.labels[p.indexOf(Math.max(...p))] } : {}),
    };
  });
  // Every digit a float64 holds (the shortest spelling that reads back exactly): rounding to a few
  // decimals makes ties of distinct scores and lowers the AUROC computed from the file.
  const csv = [
    ['case_id', ...rows.labels].map(csvField).join(','),
    ...rows.ids.map((id, i) => [csvField(id), ...rows.probabilities[i]!.map((p) => String(p))].join(',')),
  ].join('\n');
  const paths = ['predictions.json', 'predictions.csv', 'provenance.json'].map((f) => join(outDir, f));
  await writeFileAtomic(paths[0]!, `${JSON.stringify({ labels: rows.labels, cases: json }, null, 2)}\n`);
  await writeFileAtomic(paths[1]!, `${csv}\n`);
  await writeFileAtomic(
    paths[2]!,
    `${JSON.stringify(
      {
        versions: { anymc3d: CLI_VERSION, core: CORE_VERSION, adapters: ADAPTERS_VERSION, node: process.version },
        created: new Date().toISOString(),
        operatingPoint: rows.multiclass
          ? 'multi-class: softmax probabilities summing to 1; the decision is the class of highest probability'
          : 'per-label thresholds folded so that probability >= 0.5 is a positive call',
        ...provenance,
      },
      null,
      2,
    )}\n`,
  );
  return paths;
}
