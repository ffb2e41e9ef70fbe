import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Time per ONNX op type, summed over every profile file ORT wrote in a folder (ANYMC3D_ORT_PROFILE). */
export interface OpTime {
  op: string;
  ms: number;
  calls: number;
}

interface TraceEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: { op_name?: string };
}

/**
 * Reads ORT's Chrome-trace profiles (one per session) and sums the kernel time of each op type
 * (`cat: "Node"`, `*_kernel_time` events), largest first; `runsMs` is the sessions' total run
 * time over the same runs, so the table says what share of it each op type took.
 *
 * Each session's first run is left out (`warmupRunsMs` says how long those took): it touches
 * every buffer of ORT's arena for the first time, and on a VM where a page fault costs ~16 µs an
 * elementwise op writing 50 MB then takes 150 ms instead of 3 ms. Counting it made elementwise
 * ops look like 41 % of a LoRA step when they are ~15 % of a step in steady state.
 */
export async function opTimes(
  folder: string,
): Promise<{ ops: OpTime[]; kernelMs: number; runsMs: number; warmupRunsMs: number; runs: number }> {
  const byOp = new Map<string, OpTime>();
  let kernelMs = 0;
  let runsMs = 0;
  let warmupRunsMs = 0;
  let runs = 0;
  for (const file of (await readdir(folder)).filter((f) => f.endsWith('.json'))) {
    const events = JSON.parse(await readFile(join(folder, file), 'utf8')) as TraceEvent[];
    const sessionRuns = events
      .filter((e) => e.cat === 'Session' && e.name === 'model_run')
      .sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0));
    if (sessionRuns.length === 0) continue;
    const first = sessionRuns[0]!;
    const warmupEnd = (first.ts ?? 0) + (first.dur ?? 0);
    warmupRunsMs += (first.dur ?? 0) / 1000;
    for (const r of sessionRuns.slice(1)) runsMs += (r.dur ?? 0) / 1000;
    runs += sessionRuns.length - 1;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || (e.ts ?? 0) <= warmupEnd) continue;
      const op = e.args?.op_name ?? '?';
      const t = byOp.get(op) ?? { op, ms: 0, calls: 0 };
      t.ms += (e.dur ?? 0) / 1000;
      t.calls++;
      kernelMs += (e.dur ?? 0) / 1000;
      byOp.set(op, t);
    }
  }
  return { ops: [...byOp.values()].sort((a, b) => b.ms - a.ms), kernelMs, runsMs, warmupRunsMs, runs };
}

/**
 * ONNX op types that are matrix products, float or integer: what a run costs were everything else
 * free. MultiHeadAttention counts as one: its kernel is the q·kᵀ and p·v products, the softmax
 * done between them on tiles already in cache.
 */
export const MATRIX_PRODUCT_OPS: ReadonlySet<string> = new Set([
  'MatMul',
  'FusedMatMul',
  'Gemm',
  'MatMulInteger',
  'DynamicQuantizeMatMul',
  'MatMulNBits',
  'MultiHeadAttention',
]);

/** Kernel milliseconds of the matrix-product op types in `opTimes`' table. */
export function matrixProductMs(ops: readonly OpTime[]): number {
  return ops.filter((o) => MATRIX_PRODUCT_OPS.has(o.op)).reduce((n, o) => n + o.ms, 0);
}
