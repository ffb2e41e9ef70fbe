import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pythonReferenceAvailable, SYSTEM_PYTHON } from '@anymc3d/core/testing';
import { describe, expect, it } from 'vitest';
import { maxRelativeError } from '../testing/index.js';
import { bicubicResize } from './interpolate.js';

const run = promisify(execFile);

const CASES: [number, number, number, number][] = [
  [4, 4, 6, 5],
  [5, 5, 3, 3],
  [37, 37, 16, 16],
  [37, 37, 34, 34],
  [16, 16, 40, 27],
];

describe('bicubic resize', () => {
  it('is the identity at the same size', () => {
    const src = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i));
    for (const aa of [false, true])
      expect(Array.from(bicubicResize(src, 2, [3, 4], [3, 4], aa))).toEqual(Array.from(src));
  });

  it('matches torch F.interpolate(bicubic, align_corners=False) with and without antialias', async () => {
    if (!(await pythonReferenceAvailable(['torch']))) return;
    const script = [
      'import json, sys, torch, torch.nn.functional as F',
      'out = []',
      'for (h, w, oh, ow) in json.loads(sys.argv[1]):',
      '    x = torch.arange(2 * h * w, dtype=torch.float64).reshape(1, 2, h, w).sin()',
      '    out.append([F.interpolate(x, size=(oh, ow), mode="bicubic", align_corners=False, antialias=aa).flatten().tolist() for aa in (False, True)])',
      'print(json.dumps(out))',
    ].join('\n');
    const { stdout } = await run(SYSTEM_PYTHON, ['-c', script, JSON.stringify(CASES)], { maxBuffer: 64 * 2 ** 20 });
    const expected = JSON.parse(stdout) as number[][][];
    CASES.forEach(([h, w, oh, ow], k) => {
      const src = Float32Array.from({ length: 2 * h * w }, (_, i) => Math.sin(i));
      [false, true].forEach((aa, m) => {
        const got = bicubicResize(src, 2, [h, w], [oh, ow], aa);
        expect(maxRelativeError(got, expected[k]![m]!), `${h}×${w}→${oh}×${ow} antialias=${aa}`).toBeLessThan(1e-6);
      });
    });
  });
});
