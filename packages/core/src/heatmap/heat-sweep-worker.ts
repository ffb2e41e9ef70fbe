import { serveRpc } from '../util/worker-rpc.js';
import { sumPlanesToSource, sumSourceGrid } from '../volume/record.js';
import { divideBy, type HeatSweepRequest } from './heat-sweep.js';
import { HeatPlaneStats, type HeatTotals } from './slice-heat.js';

/** The worker side of `sweepHeat`: its range of planes of the shared output, swept (with their statistics) or divided. */
serveRpc<HeatSweepRequest, HeatTotals | null>(async (request) => {
  const heat = new Float32Array(request.output);
  if (request.kind === 'divide') {
    divideBy(heat, request.fromVoxel, request.toVoxel, request.by);
    return { result: null };
  }
  const { maps, from, to } = request;
  const stats = new HeatPlaneStats(sumSourceGrid(maps).size);
  sumPlanesToSource(maps, heat, from, to, { interpolation: 'linear', eachPlane: stats.take });
  const totals = stats.totals();
  return { result: totals, transfer: totals.sums.map((s) => s.buffer as ArrayBuffer) };
});
