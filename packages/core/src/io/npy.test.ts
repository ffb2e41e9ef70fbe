import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pythonReferenceAvailable, SYSTEM_PYTHON } from '../testing/index.js';
import { NpyFormatError, readNpy, writeNpy } from './npy.js';

const run = promisify(execFile);

describe('npy', () => {
  it('round-trips float32 and int64 arrays', () => {
    const a = { dtype: 'float32' as const, shape: [2, 3], data: Float32Array.from([1, 2, 3, 4.5, -5, 6]) };
    const back = readNpy(writeNpy(a));
    expect(back.shape).toEqual([2, 3]);
    expect(Array.from(back.data as Float32Array)).toEqual([1, 2, 3, 4.5, -5, 6]);
    const b = readNpy(writeNpy({ dtype: 'int64', shape: [2], data: BigInt64Array.from([7n, -1n]) }));
    expect(b.dtype).toBe('int64');
    expect(Array.from(b.data as BigInt64Array)).toEqual([7n, -1n]);
    const scalar = readNpy(writeNpy({ dtype: 'float64', shape: [], data: Float64Array.from([2.5]) }));
    expect(scalar.shape).toEqual([]);
  });

  it('reads an array that sits inside a larger Node Buffer (as a stored .npz member does)', () => {
    const npy = writeNpy({ dtype: 'uint32', shape: [3], data: Uint32Array.from([1, 2, 4_000_000_000]) });
    const inside = Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from(npy), Buffer.from([7])]).subarray(
      3,
      3 + npy.length,
    );
    const back = readNpy(inside);
    expect(back.dtype).toBe('uint32');
    expect(Array.from(back.data as Uint32Array)).toEqual([1, 2, 4_000_000_000]);
  });

  it('rejects bad bytes with a reason', () => {
    expect(() => readNpy(new Uint8Array(20))).toThrow(NpyFormatError);
    const ok = writeNpy({ dtype: 'float32', shape: [4], data: new Float32Array(4) });
    expect(() => readNpy(ok.subarray(0, ok.length - 4))).toThrow(/truncated/);
  });

  it('reads what NumPy writes and NumPy reads what it writes', async () => {
    if (!(await pythonReferenceAvailable(['numpy']))) return;
    const dir = await mkdtemp(join(tmpdir(), 'npy-'));
    const mine = join(dir, 'mine.npy');
    await writeFile(
      mine,
      writeNpy({ dtype: 'float32', shape: [2, 2, 3], data: Float32Array.from({ length: 12 }, (_, i) => i / 4) }),
    );
    const theirs = join(dir, 'theirs.npy');
    const script = [
      'import numpy as np, sys',
      `a = np.load(sys.argv[1]); assert a.dtype == np.float32 and a.shape == (2, 2, 3), (a.dtype, a.shape)`,
      'assert np.array_equal(a.ravel(), np.arange(12, dtype=np.float32) / 4)',
      'np.save(sys.argv[2], (np.arange(30, dtype=np.float32).reshape(5, 6) - 3.5))',
    ].join('\n');
    await run(SYSTEM_PYTHON, ['-c', script, mine, theirs]);
    const back = readNpy(new Uint8Array(await readFile(theirs)));
    expect(back.shape).toEqual([5, 6]);
    expect((back.data as Float32Array)[29]).toBe(25.5);
  });
});
