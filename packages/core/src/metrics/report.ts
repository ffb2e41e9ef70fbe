import type { Interval } from './bootstrap.js';
import type { CrgResult } from './crg.js';
import {
  type Evaluation,
  type EvaluationIntervals,
  type IntervalSet,
  METRIC_NAMES,
  type MetricSet,
} from './evaluate.js';

/** The machine-readable report: `{macro, per_label: {label: metrics}, crg, …}` plus intervals when bootstrapped. */
export interface EvaluationReport {
  cases: number;
  threshold: number;
  macro: MetricSet;
  per_label: Record<string, MetricSet>;
  crg: number | null;
  crg_detail: CrgResult;
  ci?: {
    level: number;
    iterations: number;
    seed: number;
    macro: Record<string, [number, number] | null>;
    per_label: Record<string, Record<string, [number, number] | null>>;
    crg: [number, number] | null;
  };
}

const pair = (i: Interval | null): [number, number] | null => (i === null ? null : [i.lo, i.hi]);
const pairs = (set: IntervalSet) => Object.fromEntries(METRIC_NAMES.map((m) => [m, pair(set[m])]));

export function evaluationReport(result: Evaluation, intervals?: EvaluationIntervals): EvaluationReport {
  const report: EvaluationReport = {
    cases: result.cases,
    threshold: result.threshold,
    macro: result.macro,
    per_label: Object.fromEntries(result.labels.map((label, l) => [label, result.perLabel[l]!])),
    crg: result.crg.CRG,
    crg_detail: result.crg,
  };
  if (intervals !== undefined) {
    report.ci = {
      level: intervals.level,
      iterations: intervals.iterations,
      seed: intervals.seed,
      macro: pairs(intervals.macro),
      per_label: Object.fromEntries(result.labels.map((label, l) => [label, pairs(intervals.perLabel[l]!)])),
      crg: pair(intervals.crg),
    };
  }
  return report;
}

const HEADINGS: Record<(typeof METRIC_NAMES)[number], string> = {
  auroc: 'AUROC',
  ap: 'AP',
  precision: 'Precision',
  recall: 'Recall',
  f1: 'F1',
  accuracy: 'Accuracy',
  balanced_accuracy: 'Bal. acc.',
};

function cell(value: number | null, interval: Interval | null | undefined): string {
  if (value === null) return 'n/a';
  const v = value.toFixed(3);
  return interval ? `${v} [${interval.lo.toFixed(2)}, ${interval.hi.toFixed(2)}]` : v;
}

/**
 * A plain-text table: one row per label and a macro row, each metric with its bootstrap interval
 * when given, then CRG with its counts and a line saying how the numbers were made.
 */
export function formatEvaluationTable(result: Evaluation, intervals?: EvaluationIntervals): string {
  const rows: string[][] = [['Label', 'Pos/N', ...METRIC_NAMES.map((m) => HEADINGS[m])]];
  result.labels.forEach((label, l) => {
    const set = result.perLabel[l]!;
    const ci = intervals?.perLabel[l];
    rows.push([label, `${result.positives[l]}/${result.cases}`, ...METRIC_NAMES.map((m) => cell(set[m], ci?.[m]))]);
  });
  rows.push(['Macro mean', '', ...METRIC_NAMES.map((m) => cell(result.macro[m], intervals?.macro[m]))]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    r
      .map((text, c) => (c === 0 ? text.padEnd(widths[c]!) : text.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [line(rows[0]!), rule, ...rows.slice(1, -1).map(line), rule, line(rows.at(-1)!)];
  const c = result.crg;
  out.push('');
  out.push(
    `CRG ${cell(c.CRG, intervals?.crg)}  (TP ${c.TP}, FN ${c.FN}, FP ${c.FP}; X ${c.X}, A ${c.A}` +
      (c.r === null ? ')' : `, r ${c.r.toFixed(4)}, U ${c.U}, s ${c.score_s!.toFixed(4)})`),
  );
  out.push(
    `${result.cases} cases, ${result.labels.length} labels; threshold metrics and CRG at score >= ${result.threshold}; ` +
      'n/a where a label has one class; macro AUROC/AP over the labels where defined.',
  );
  if (intervals) {
    out.push(
      `[lo, hi]: ${Math.round(intervals.level * 100)}% percentile intervals from ${intervals.iterations} ` +
        `case-level bootstrap resamples (seed ${intervals.seed}).`,
    );
  }
  return `${out.join('\n')}\n`;
}
