/**
 * Redraws bench/ratios-over-time.{png,svg,vl.json} from bench/RESULTS.md (appendResults does this
 * after every run; this is for edits by hand).
 *
 *   node bench/dist/draw-ratios.js
 */
import { RESULTS_PATH } from './harness.js';
import { writeRatiosPlot } from './results-plot.js';

const files = await writeRatiosPlot(RESULTS_PATH);
process.stdout.write(`${files.png}\n`);
