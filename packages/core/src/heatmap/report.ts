import { writeFileAtomic } from '../util/atomic.js';
import { escapeMarkup } from '../util/markup.js';

/**
 * A per-case report a reviewer opens offline: one self-contained HTML file (inline style, images
 * as data URIs, no script, no link out) with the probabilities against their thresholds, the
 * heatmap montages, and where every number came from.
 */
export interface CaseReport {
  caseId: string;
  task: string;
  /** Raw probabilities (not threshold-folded), each with the plugin's threshold for its label. */
  labels: { label: string; probability: number; threshold: number }[];
  /** Multi-class plugins decide by the most probable class, not by thresholds. */
  multiclass?: boolean;
  montages: { label: string; png: Uint8Array; caption: string }[];
  provenance: {
    backbone: { name: string; weightHash: string };
    plugin: { path: string; sha256: string };
    /** The plugin's recorded input recipe (intensity, orientation, spacing, slices, views). */
    recipe: unknown;
    input: string[];
    versions: Record<string, string>;
    created: string;
  };
}

/**
 * A report's rows from a plugin card and the case's raw probabilities (in the card's label order,
 * or by label name): each label with its threshold, and whether the plugin decides by arg max.
 */
export function reportLabels(
  card: { labels: readonly string[]; thresholds: readonly number[]; kind: string },
  probabilities: readonly number[] | Readonly<Record<string, number>>,
): Pick<CaseReport, 'labels' | 'multiclass'> {
  const at = (label: string, k: number) =>
    Array.isArray(probabilities) ? probabilities[k]! : (probabilities as Record<string, number>)[label]!;
  return {
    labels: card.labels.map((label, k) => ({ label, probability: at(label, k), threshold: card.thresholds[k] ?? 0.5 })),
    multiclass: card.kind === 'multiclass',
  };
}

const STYLE = `
body{font-family:"DejaVu Sans",system-ui,sans-serif;margin:24px;color:#111;max-width:1400px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.sub{color:#555;margin:0 0 16px}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:#a30000;font-weight:bold}.neg{color:#1f5f1f}
.bar{display:inline-block;height:10px;background:#0072B2;vertical-align:middle}
.track{display:inline-block;width:160px;height:10px;background:#eee;position:relative;vertical-align:middle}
.thr{position:absolute;top:-3px;width:2px;height:16px;background:#d55e00}
img{max-width:100%;border:1px solid #ddd}
pre{background:#f6f6f6;padding:8px;font-size:12px;overflow:auto}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px}dt{color:#555}dd{margin:0;word-break:break-all}
`;

function probabilityRow(l: CaseReport['labels'][number], decided: boolean, multiclass: boolean): string {
  const p = Math.min(1, Math.max(0, l.probability));
  const call = multiclass ? (decided ? 'most probable class' : '') : decided ? 'positive' : 'negative';
  const cls = decided ? 'pos' : 'neg';
  return (
    `<tr><td>${escapeMarkup(l.label)}</td><td class="num" data-probability="${l.probability}">${l.probability.toFixed(4)}</td>` +
    `<td class="num">${multiclass ? '–' : l.threshold.toFixed(4)}</td>` +
    `<td><span class="track"><span class="bar" style="width:${(p * 160).toFixed(1)}px"></span>` +
    (multiclass
      ? ''
      : `<span class="thr" style="left:${(Math.min(1, Math.max(0, l.threshold)) * 160).toFixed(1)}px"></span>`) +
    `</span></td><td class="${cls}">${call}</td></tr>`
  );
}

export function caseReportHtml(r: CaseReport): string {
  const best = Math.max(...r.labels.map((l) => l.probability));
  const rows = r.labels
    .map((l) => probabilityRow(l, r.multiclass ? l.probability === best : l.probability >= l.threshold, !!r.multiclass))
    .join('');
  const montages = r.montages.length
    ? r.montages
        .map(
          (m) =>
            `<figure><img alt="${escapeMarkup(`heatmap montage: ${m.label}`)}" src="data:image/png;base64,${Buffer.from(m.png).toString('base64')}">` +
            `<figcaption>${escapeMarkup(m.caption)}</figcaption></figure>`,
        )
        .join('')
    : '<p>No heatmap was computed for this case (run with heatmaps to include one).</p>';
  const p = r.provenance;
  const dl = [
    ['case', r.caseId],
    ['input', p.input.join(', ')],
    ['backbone', p.backbone.name],
    ['backbone weights sha256', p.backbone.weightHash],
    ['plugin', p.plugin.path],
    ['plugin sha256 (weights + card)', p.plugin.sha256],
    ...Object.entries(p.versions).map(([k, v]) => [`${k} version`, v]),
    ['created', p.created],
  ]
    .map(([k, v]) => `<dt>${escapeMarkup(k!)}</dt><dd>${escapeMarkup(v!)}</dd>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeMarkup(`${r.caseId} · ${r.task}`)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>${escapeMarkup(r.caseId)} · ${escapeMarkup(r.task)}</h1>
<p class="sub">${
    r.multiclass
      ? 'Multi-class: the decision is the most probable class.'
      : 'A label is called positive when its probability is at or above its threshold (chosen on validation data when the plugin was trained).'
  } Research use; not a diagnosis.</p>
<h2>Probabilities</h2>
<table><thead><tr><th>label</th><th>probability</th><th>threshold</th><th>probability (bar) and threshold (line)</th><th>call</th></tr></thead>
<tbody>${rows}</tbody></table>
<h2>Heatmaps</h2>
${montages}
<h2>Provenance</h2>
<dl>${dl}</dl>
<h3>Input recipe (from the plugin)</h3>
<pre>${escapeMarkup(JSON.stringify(p.recipe, null, 2))}</pre>
</body></html>
`;
}

/** Writes the report atomically. */
export async function writeCaseReport(path: string, report: CaseReport): Promise<string> {
  await writeFileAtomic(path, caseReportHtml(report));
  return path;
}
