import { serveRpc } from '../util/worker-rpc.js';
import { sumPlanesToSource, sumSourceGrid } from '../volume/record.js';
import type { HeatSweepRequest } from './heat-sweep.js';
import { HeatPlaneStats, type HeatTotals } from './slice-heat.js';

/** The worker side of `sweepHeat`: its range of planes into the shared output, and their statistics. */
serveRpc<HeatSweepRequest, HeatTotals>(async ({ maps, output, from, to }) => {
  const stats = new HeatPlaneStats(sumSourceGrid(maps).size);
  sumPlanesToSource(maps, new Float32Array(output), from, to, { interpolation: 'linear', eachPlane: stats.take });
  const totals = stats.totals();
  return { result: totals, transfer: totals.sums.map((s) => s.buffer as ArrayBuffer) };
});
