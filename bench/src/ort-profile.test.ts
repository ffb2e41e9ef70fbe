import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opTimes } from './ort-profile.js';

describe('opTimes', () => {
  it('sums kernel time per op type over every session’s trace, largest first', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ort-profile-test-'));
    const node = (name: string, op: string, dur: number) => ({ cat: 'Node', name, dur, args: { op_name: op } });
    await writeFile(
      join(dir, 'session-1_2026.json'),
      JSON.stringify([
        { cat: 'Session', name: 'model_run', dur: 5000 },
        node('mm_kernel_time', 'MatMul', 3000),
        node('mm_fence_before', 'MatMul', 999), // not kernel time
        node('add_kernel_time', 'Add', 500),
      ]),
    );
    await writeFile(
      join(dir, 'session-2_2026.json'),
      JSON.stringify([{ cat: 'Session', name: 'model_run', dur: 2000 }, node('mm2_kernel_time', 'MatMul', 1000)]),
    );
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    const t = await opTimes(dir);
    expect(t.ops).toEqual([
      { op: 'MatMul', ms: 4, calls: 2 },
      { op: 'Add', ms: 0.5, calls: 1 },
    ]);
    expect(t.kernelMs).toBe(4.5);
    expect(t.runsMs).toBe(7);
  });
});
