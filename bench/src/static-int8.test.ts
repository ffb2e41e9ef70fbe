import {
  GraphBuilder,
  gelu,
  linear,
  OnnxSession,
  type Tensor,
  tensor,
  toOnnx,
  withPrecision,
} from '@anymc3d/core/graph';
import { maxAbsDifference } from '@anymc3d/core/testing';
import { Random } from '@anymc3d/core/util';
import { describe, expect, it } from 'vitest';
import { calibrateActivations, withStaticActivations } from './static-int8.js';

describe('calibrated static int8 alternative', () => {
  const r = new Random(11);
  const [m, k, h, n] = [5, 24, 32, 6];
  const normals = (count: number, scale = 1) => Float32Array.from({ length: count }, () => scale * r.normal());
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float32', [m, k]);
  const hidden = gelu(
    g,
    linear(
      g,
      x,
      g.param('w1', tensor('float32', [k, h], normals(k * h))),
      g.param('b1', tensor('float32', [h], normals(h))),
    ),
  );
  g.output(
    linear(
      g,
      hidden,
      g.param('w2', tensor('float32', [h, n], normals(h * n))),
      g.param('b2', tensor('float32', [n], normals(n))),
    ),
    'y',
  );
  const dynamic = withPrecision(g.build(), 'int8').graph;
  const calibration = { x: tensor('float32', [m, k], normals(m * k)) };

  async function run(graph: typeof dynamic, feeds: Record<string, Tensor>): Promise<Float32Array> {
    const session = await OnnxSession.create(toOnnx(graph), { threads: 1 });
    try {
      return (await session.run(feeds)).y!.data as Float32Array;
    } finally {
      await session.release();
    }
  }

  it('on its calibration batch equals the dynamic graph, with bias folded and no Cast or dequantising Mul left', async () => {
    const ranges = await calibrateActivations(dynamic, calibration, 1);
    expect(ranges.size).toBe(2);
    const { graph, converted } = withStaticActivations(dynamic, ranges);
    expect(converted).toBe(2);
    const ops = graph.nodes.map((node) => node.op);
    expect(ops.filter((op) => op === 'MatMulIntegerToFloat')).toHaveLength(2);
    expect(ops).not.toContain('DynamicQuantizeLinear');
    expect(ops).not.toContain('Cast');
    expect(ops.filter((op) => op === 'Add')).toHaveLength(1); // GELU's own; both biases folded.
    const expected = await run(dynamic, calibration);
    expect(maxAbsDifference(await run(graph, calibration), expected)).toBeLessThan(
      1e-4 * Math.max(...expected.map(Math.abs)),
    );
  });

  it('keeps the calibrated range on other input (clipping what lies outside), where dynamic measures it anew', async () => {
    const { graph } = withStaticActivations(dynamic, await calibrateActivations(dynamic, calibration, 1));
    const wider = {
      x: tensor(
        'float32',
        [m, k],
        (calibration.x.data as Float32Array).map((v) => 4 * v),
      ),
    };
    const expected = await run(dynamic, wider);
    expect(maxAbsDifference(await run(graph, wider), expected)).toBeGreaterThan(
      0.1 * Math.max(...expected.map(Math.abs)),
    );
  });

  it('refuses a graph it has no range for', () => {
    expect(() => withStaticActivations(dynamic, new Map())).toThrow(/no calibrated range/);
  });
});
