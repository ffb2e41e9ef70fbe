import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { readVolume } from '@anymc3d/core/volume';
import { appendResults, markdownTable, measureLoad } from './harness.js';
import { runPeer } from './peer.js';

/**
 * Reading a 512×512×300 int16 .nii.gz as nibabel writes it by default (sform only): anymc3d
 * (header geometry, native zlib, in a worker thread) vs nibabel, in the
 * same run. Reports time per read, the ratio to nibabel (goal ≤ 1.0), peak RSS, and the longest
 * event-loop stall while reading (goal ≤ 50 ms), plus the in-thread read for comparison.
 * Run: node bench/dist/read-volume.js [repeats]
 */
const PEER = fileURLToPath(new URL('../python/read_volume.py', import.meta.url));
const repeats = Number(process.argv[2] ?? 3);

interface Timing {
  seconds: number[];
  stallMs: number;
}

async function timeReads(path: string, mode: 'worker' | 'thread'): Promise<Timing> {
  await readVolume(path, { in: mode }); // warm-up: loads ITK's modules (and starts the worker)
  const seconds: number[] = [];
  let stallMs = 0;
  for (let r = 0; r < repeats; r++) {
    const delay = monitorEventLoopDelay({ resolution: 5 });
    // A timer that would run every 5 ms on a free loop: its worst lateness is the stall.
    let last = performance.now();
    let worst = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last - 5);
      last = now;
    }, 5);
    delay.enable();
    const t = performance.now();
    const { volume } = await readVolume(path, { in: mode });
    seconds.push((performance.now() - t) / 1000);
    delay.disable();
    clearInterval(timer);
    stallMs = Math.max(stallMs, worst, delay.max / 1e6);
    if (volume.size[2] !== 300) throw new Error('unexpected volume');
  }
  return { seconds, stallMs };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'anymc3d-bench-read-'));
  const path = join(dir, 'ct-512x512x300.nii.gz');
  try {
    await runPeer(PEER, ['make', path], 2);
    const bytes = (await stat(path)).size;
    const { result, load } = await measureLoad(async () => {
      const rssBefore = process.memoryUsage().rss;
      const worker = await timeReads(path, 'worker');
      const peakWorker = process.resourceUsage().maxRSS * 1024;
      const thread = await timeReads(path, 'thread');
      const nibabel = JSON.parse(await runPeer(PEER, ['time', path, String(repeats)], 2)) as {
        seconds: number[];
        maxrss_kib: number;
      };
      return { rssBefore, worker, peakWorker, thread, nibabel };
    });
    const { worker, thread, nibabel, peakWorker, rssBefore } = result;
    const mb = (b: number) => (b / 2 ** 20).toFixed(0);
    const volumeMiB = (512 * 512 * 300 * 2) / 2 ** 20;
    const table = markdownTable(
      ['reader', 'mean s / read', 'min s', 'longest event-loop stall (ms)', 'peak RSS (MiB)'],
      [
        [
          'anymc3d readVolume (worker thread)',
          mean(worker.seconds),
          Math.min(...worker.seconds),
          worker.stallMs,
          mb(peakWorker),
        ],
        [
          'anymc3d readVolume (in thread)',
          mean(thread.seconds),
          Math.min(...thread.seconds),
          thread.stallMs,
          mb(process.resourceUsage().maxRSS * 1024),
        ],
        [
          'nibabel 5.0 (np.asanyarray(img.dataobj))',
          mean(nibabel.seconds),
          Math.min(...nibabel.seconds),
          'n/a',
          mb(nibabel.maxrss_kib * 1024),
        ],
      ],
    );
    const ratio = mean(worker.seconds) / mean(nibabel.seconds);
    const report = {
      title: 'Read a 512×512×300 int16 .nii.gz',
      command: `node bench/dist/read-volume.js ${repeats}`,
      table,
      ratios: [
        `anymc3d (worker) ÷ nibabel time: ${ratio.toFixed(2)} (goal ≤ 1.0) — ${ratio <= 1 ? 'met' : 'NOT met'}`,
        `longest event-loop stall while reading in the worker: ${worker.stallMs.toFixed(1)} ms (goal ≤ 50 ms) — ${worker.stallMs <= 50 ? 'met' : 'NOT met'}`,
      ],
      notes: [
        `File: ${(bytes / 2 ** 20).toFixed(1)} MiB compressed, ${volumeMiB.toFixed(0)} MiB of voxels; ${repeats} timed reads after one warm-up each.`,
        `RSS before reading ${mb(rssBefore)} MiB; peak RSS is the whole Node process (main thread + worker), so the in-thread row includes the worker's earlier peak.`,
      ],
    };
    process.stdout.write(`${await appendResults(report, load)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
