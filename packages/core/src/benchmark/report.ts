import type { Interval } from '../metrics/bootstrap.js';
import type { ComparisonPoint, DifferencePoint } from '../plot/index.js';
import type { Comparison } from './compare.js';
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

/** Each finished cell's test AUROC with its interval: the points of the comparison plot. */
export function aurocPoints(cells: readonly CellResult[]): ComparisonPoint[] {
  const points: ComparisonPoint[] = [];
  for (const c of cells) {
    if (c.status !== 'done' || c.test.macro.auroc === null) continue;
    const v = c.test.macro.auroc;
    const iv = c.test.intervals.macro.auroc;
    points.push({ task: c.task, backbone: c.backbone.name, mode: c.mode, auroc: v, lo: iv?.lo ?? v, hi: iv?.hi ?? v });
  }
  return points;
}

/** Every comparison's per-task differences and its mean over tasks: the points of the differences plot. */
export function differencePoints(comparisons: readonly Comparison[]): DifferencePoint[] {
  const points: DifferencePoint[] = [];
  for (const c of comparisons) {
    for (const t of c.perTask) {
      if (t.difference === null || !t.interval) continue;
      points.push({
        comparison: c.title,
        task: t.task,
        difference: t.difference,
        lo: t.interval.lo,
        hi: t.interval.hi,
        p: t.p,
      });
    }
    if (c.mean && c.mean.tasks > 1 && c.mean.difference !== null && c.mean.interval) {
      const { difference, interval, p } = c.mean;
      points.push({
        comparison: c.title,
        task: `mean of ${c.mean.tasks} tasks`,
        difference,
        lo: interval.lo,
        hi: interval.hi,
        p,
      });
    }
  }
  return points;
}
