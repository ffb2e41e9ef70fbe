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
  dur?: number;
  args?: { op_name?: string };
}

/**
 * Reads ORT's Chrome-trace profiles (one per session) and sums the kernel time of each op type
 * (`cat: "Node"`, `*_kernel_time` events), largest first; `runs` is the sessions' total run time,
 * so the table says what share of it each op type took.
 */
export async function opTimes(folder: string): Promise<{ ops: OpTime[]; kernelMs: number; runsMs: number }> {
  const byOp = new Map<string, OpTime>();
  let kernelMs = 0;
  let runsMs = 0;
  for (const file of (await readdir(folder)).filter((f) => f.endsWith('.json'))) {
    const events = JSON.parse(await readFile(join(folder, file), 'utf8')) as TraceEvent[];
    for (const e of events) {
      if (e.cat === 'Session' && e.name === 'model_run') runsMs += (e.dur ?? 0) / 1000;
      if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
      const op = e.args?.op_name ?? '?';
      const t = byOp.get(op) ?? { op, ms: 0, calls: 0 };
      t.ms += (e.dur ?? 0) / 1000;
      t.calls++;
      kernelMs += (e.dur ?? 0) / 1000;
      byOp.set(op, t);
    }
  }
  return { ops: [...byOp.values()].sort((a, b) => b.ms - a.ms), kernelMs, runsMs };
}
