import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opTimes } from './ort-profile.js';

describe('opTimes', () => {
  it('sums kernel time per op type over every session’s runs after its first, largest first', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ort-profile-test-'));
    const node = (name: string, op: string, ts: number, dur: number) => ({
      cat: 'Node',
      name,
      ts,
      dur,
      args: { op_name: op },
    });
    const run = (ts: number, dur: number) => ({ cat: 'Session', name: 'model_run', ts, dur });
    await writeFile(
      join(dir, 'session-1_2026.json'),
      JSON.stringify([
        // The warm-up run: first touch of every buffer, not what a step costs.
        run(0, 90_000),
        node('mm_kernel_time', 'MatMul', 10, 40_000),
        node('add_kernel_time', 'Add', 50_000, 30_000),
        run(100_000, 5000),
        node('mm_kernel_time', 'MatMul', 100_010, 3000),
        node('mm_fence_before', 'MatMul', 103_010, 999), // not kernel time
        node('add_kernel_time', 'Add', 104_000, 500),
      ]),
    );
    await writeFile(
      join(dir, 'session-2_2026.json'),
      JSON.stringify([
        run(0, 7000),
        node('mm2_kernel_time', 'MatMul', 10, 6000),
        run(10_000, 2000),
        node('mm2_kernel_time', 'MatMul', 10_010, 1000),
      ]),
    );
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    const t = await opTimes(dir);
    expect(t.ops).toEqual([
      { op: 'MatMul', ms: 4, calls: 2 },
      { op: 'Add', ms: 0.5, calls: 1 },
    ]);
    expect(t.kernelMs).toBe(4.5);
    expect(t.runsMs).toBe(7);
    expect(t.warmupRunsMs).toBe(97);
    expect(t.runs).toBe(2);
  });
});
