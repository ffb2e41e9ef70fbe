import type { Interval } from '../metrics/bootstrap.js';
import type { Comparison } from './compare.js';
import { type DotPlot, SERIES_COLOURS } from './plot.js';
import type { CellResult } from './results.js';

const num = (v: number | null | undefined, digits = 3) => (v === null || v === undefined ? '–' : v.toFixed(digits));
const ci = (i: Interval | null | undefined, digits = 3) => (i ? `[${num(i.lo, digits)}, ${num(i.hi, digits)}]` : '');
const pValue = (p: number | null) => (p === null ? '–' : p < 0.001 ? '< 0.001' : p.toFixed(3));

/** The results table: one row per cell, test metrics with their 95% bootstrap intervals. */
export function resultsTable(cells: readonly CellResult[]): string {
  const lines = [
    '| task | backbone | mode | test AUROC [95% CI] | test AP [95% CI] | balanced accuracy | chosen step (val AUROC) | trainable params | train s |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of cells) {
    if (c.status !== 'done') {
      lines.push(
        `| ${c.task} | ${c.backbone.name} | ${c.mode} | not supported: ${c.reason.replace(/\|/g, '\\|').split('\n')[0]} | | | | | |`,
      );
      continue;
    }
    const m = c.test.macro;
    const iv = c.test.intervals.macro;
    const chosen = c.selection.candidates.find((x) => x.step === c.selection.chosenStep);
    lines.push(
      `| ${c.task} | ${c.backbone.name} | ${c.mode} | ${num(m.auroc)} ${ci(iv.auroc)} | ${num(m.ap)} ${ci(iv.ap)} | ` +
        `${num(m.balanced_accuracy)} ${ci(iv.balanced_accuracy)} | ${c.selection.chosenStep} (${num(chosen?.valAuroc ?? null)}) | ` +
        `${c.parameters.trainable} | ${c.seconds.train.toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

/** The comparisons as Markdown: per task and the mean, difference with its CI and p-value. */
export function comparisonTables(comparisons: readonly Comparison[]): string {
  const parts: string[] = [];
  for (const c of comparisons) {
    parts.push(`### ${c.title}`, '', `AUROC of ${c.a} minus AUROC of ${c.b}, paired bootstrap over test cases.`, '');
    parts.push('| task | AUROC A | AUROC B | A − B [95% CI] | p |', '|---|---|---|---|---|');
    for (const t of c.perTask) {
      parts.push(`| ${t.task} | ${num(t.a)} | ${num(t.b)} | ${num(t.difference)} ${ci(t.interval)} | ${pValue(t.p)} |`);
    }
    if (c.mean) {
      parts.push(
        `| **mean of ${c.mean.tasks}** | | | ${num(c.mean.difference)} ${ci(c.mean.interval)} | ${pValue(c.mean.p)} |`,
      );
    }
    parts.push('');
  }
  return parts.join('\n');
}

/** The test-AUROC dot plot of the cells: one group per task, one series per (backbone, mode). */
export function aurocPlot(cells: readonly CellResult[]): { plot: DotPlot; legend: string } {
  const groups = [...new Set(cells.map((c) => c.task))];
  const names = [...new Set(cells.map((c) => `${c.mode} · ${c.backbone.name}`))];
  const series = names.map((name) => ({
    name,
    points: groups.map((task) => {
      const c = cells.find((x) => x.task === task && `${x.mode} · ${x.backbone.name}` === name);
      if (c?.status !== 'done' || c.test.macro.auroc === null) return null;
      const iv = c.test.intervals.macro.auroc;
      return { value: c.test.macro.auroc, lo: iv?.lo ?? c.test.macro.auroc, hi: iv?.hi ?? c.test.macro.auroc };
    }),
  }));
  const values = series.flatMap((s) => s.points.filter((p) => p !== null).map((p) => p.lo));
  const floor = Math.min(0.5, ...values.map((v) => Math.floor(v * 10) / 10));
  const legend = [
    'Test AUROC, dot = estimate, whisker = 95% bootstrap interval, one group per task (numbered under the axis):',
    '',
    ...groups.map((g, i) => `${i + 1}. ${g}`),
    '',
    '| colour | series |',
    '|---|---|',
    ...series.map((s, i) => `| ${SERIES_COLOURS[i % SERIES_COLOURS.length]!.name} | ${s.name} |`),
  ].join('\n');
  return { plot: { groups, series, range: [Math.max(0, floor), 1], tick: 0.1 }, legend };
}
