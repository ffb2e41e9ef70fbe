import { readFile } from 'node:fs/promises';
import { ADAPTERS_VERSION } from '@anymc3d/adapters';
import { CORE_VERSION } from '@anymc3d/core';
import { reportLabels, writeCaseReport } from '@anymc3d/core/heatmap';
import type { PluginCard } from '@anymc3d/core/plugin';
import { CLI_VERSION } from '../version.js';
import { pluginHash } from './outputs.js';

export interface CaseReportArgs {
  caseId: string;
  card: PluginCard;
  pluginDir: string;
  /** Raw probabilities in the card's label order. */
  probabilities: readonly number[];
  backbone: { name: string; weightHash: string };
  input: string[];
  /** Montage PNGs written for this case (label and file). */
  montages: { label: string; png: string }[];
}

/** One case's self-contained HTML report (core/heatmap/report.ts), with the CLI's provenance. */
export async function writeCliCaseReport(path: string, a: CaseReportArgs): Promise<string> {
  return writeCaseReport(path, {
    caseId: a.caseId,
    task: a.card.task,
    ...reportLabels(a.card, a.probabilities),
    montages: await Promise.all(
      a.montages.map(async (m) => ({
        label: m.label,
        png: new Uint8Array(await readFile(m.png)),
        caption: `${m.label}: top slices per view, input beside overlay (${m.png})`,
      })),
    ),
    provenance: {
      backbone: a.backbone,
      plugin: { path: a.pluginDir, sha256: await pluginHash(a.pluginDir) },
      recipe: a.card.input ?? null,
      input: a.input,
      versions: { anymc3d: CLI_VERSION, core: CORE_VERSION, adapters: ADAPTERS_VERSION, node: process.version },
      created: new Date().toISOString(),
    },
  });
}
