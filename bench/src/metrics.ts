/**
 * Metrics benchmark: per-label and macro metrics plus case-level bootstrap intervals on a
 * VLM3D-sized problem (3,000 cases × 18 labels), `anymc3d`'s core/metrics against scikit-learn
 * doing the same per label (the usual Python way), on the same CSV files, in the same run.
 * Run: node bench/dist/metrics.js (after the build).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alignPredictions, labelTableFromCsv, readCsv } from '@anymc3d/core/datasets';
import { bootstrapIntervals, evaluate } from '@anymc3d/core/metrics';
import { Random } from '@anymc3d/core/util';
import { appendResults, markdownTable, measureLoad } from './harness.js';
import { runPeer } from './peer.js';

const CASES = 3000;
const LABELS = 18;
const RESAMPLES = 1000;
const PEER_RESAMPLES = 50;

const PEER = `
import sys, time, warnings
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score, precision_score, recall_score, f1_score, accuracy_score, balanced_accuracy_score
warnings.filterwarnings("ignore")
pred = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, usecols=range(1, ${LABELS + 1}))
gt = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1, usecols=range(1, ${LABELS + 1})).astype(int)
def metrics(idx):
    out = []
    for l in range(gt.shape[1]):
        y, s = gt[idx, l], pred[idx, l]
        b = (s >= 0.5).astype(int)
        out.append((roc_auc_score(y, s), average_precision_score(y, s), precision_score(y, b, zero_division=0),
                    recall_score(y, b, zero_division=0), f1_score(y, b, zero_division=0), accuracy_score(y, b),
                    balanced_accuracy_score(y, b)))
    return out
n = gt.shape[0]
t0 = time.perf_counter(); metrics(np.arange(n)); t1 = time.perf_counter()
rng = np.random.default_rng(0)
for _ in range(int(sys.argv[3])): metrics(rng.integers(0, n, n))
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1000} {(t2 - t1) * 1000 / int(sys.argv[3])}")
`;

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'anymc3d-bench-metrics-'));
  const random = new Random(1);
  const names = Array.from({ length: LABELS }, (_, l) => `label_${l}`);
  const pred = [`id,${names.join(',')}`];
  const gt = [`id,${names.join(',')}`];
  for (let i = 0; i < CASES; i++) {
    const t = names.map((_, l) => (random.next() < 0.05 + 0.02 * l ? 1 : 0));
    const p = t.map((y) => (1 / (1 + Math.exp(-(random.normal() + 1.5 * (y - 0.5))))).toFixed(3));
    gt.push(`case_${i},${t.join(',')}`);
    pred.push(`case_${i},${p.join(',')}`);
  }
  const predPath = join(dir, 'pred.csv');
  const gtPath = join(dir, 'gt.csv');
  await writeFile(predPath, `${pred.join('\n')}\n`);
  await writeFile(gtPath, `${gt.join('\n')}\n`);
  const peerPath = join(dir, 'peer.py');
  await writeFile(peerPath, PEER);

  const { result, load } = await measureLoad(async () => {
    const t0 = performance.now();
    const data = alignPredictions(
      labelTableFromCsv(await readCsv(predPath), 'probabilities'),
      labelTableFromCsv(await readCsv(gtPath), 'binary'),
    );
    const t1 = performance.now();
    evaluate(data, 0.5);
    const t2 = performance.now();
    bootstrapIntervals(data, 0.5, { iterations: RESAMPLES, seed: 0 });
    const t3 = performance.now();
    const [peerPoint, peerResample] = (await runPeer(peerPath, [predPath, gtPath, String(PEER_RESAMPLES)], 2))
      .trim()
      .split(' ')
      .map(Number);
    return {
      read: t1 - t0,
      point: t2 - t1,
      resample: (t3 - t2) / RESAMPLES,
      peerPoint: peerPoint!,
      peerResample: peerResample!,
    };
  });
  const table = markdownTable(
    ['step', 'anymc3d core/metrics (ms)', 'scikit-learn 1.2 per label (ms)'],
    [
      ['read + align 2 CSVs', result.read, '—'],
      ['7 metrics × 18 labels + macro + CRG', result.point, result.peerPoint],
      [`one bootstrap resample (of ${RESAMPLES}; peer ${PEER_RESAMPLES})`, result.resample, result.peerResample],
    ],
  );
  const section = await appendResults(
    {
      title: `Metrics: ${CASES} cases × ${LABELS} labels, point metrics and bootstrap`,
      command: 'node bench/dist/metrics.js',
      table,
      ratios: [
        `point metrics: anymc3d ÷ scikit-learn = ${(result.point / result.peerPoint).toFixed(3)}`,
        `per bootstrap resample: anymc3d ÷ scikit-learn = ${(result.resample / result.peerResample).toFixed(3)}`,
      ],
      notes: [
        'anymc3d sorts each label once and evaluates resamples as case weights in one sweep; the peer calls ' +
          'scikit-learn per label and resample (includes its input validation), the way evaluation scripts usually do.',
      ],
    },
    load,
  );
  process.stdout.write(`${section}\n`);
}

await main();
