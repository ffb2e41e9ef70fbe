import { GraphBuilder, OnnxSession, tensor, toOnnx } from '@anymc3d/core/graph';
import { Random } from '@anymc3d/core/util';
import { describe, expect, it } from 'vitest';
import { activationRange, multiplyByQuantizedMultiplier, quantizeMultiplier, requantizeCodes } from './fixed-point.js';

/** gemmlowp / TFLite common.h, literally (nudge, truncating division, mask and threshold). */
function srdhm(a: bigint, b: bigint): bigint {
  const ab = a * b;
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return (ab + nudge) / (1n << 31n); // BigInt division truncates toward zero, as C++ does.
}
function roundingDivideByPot(x: bigint, exponent: bigint): bigint {
  const mask = (1n << exponent) - 1n;
  const remainder = x & mask;
  const threshold = (mask >> 1n) + (x < 0n ? 1n : 0n);
  return (x >> exponent) + (remainder > threshold ? 1n : 0n);
}
function reference(x: bigint, multiplier: number, shift: number): bigint {
  const left = BigInt(Math.max(shift, 0));
  const right = BigInt(Math.max(-shift, 0));
  return roundingDivideByPot(srdhm(x * (1n << left), BigInt(multiplier)), right);
}

describe('TFLite fixed-point requantisation as int64 graph ops', () => {
  it('QuantizeMultiplier gives a Q0.31 significand and the frexp exponent', () => {
    for (const real of [0.5, 0.75, 1, 1.5, 2 ** -20, 0.0213, 3.7e-4, 1 - 2 ** -40]) {
      const { multiplier, shift } = quantizeMultiplier(real);
      expect(multiplier).toBeGreaterThanOrEqual(2 ** 30);
      expect(multiplier).toBeLessThan(2 ** 31);
      expect(Math.abs((multiplier / 2 ** 31) * 2 ** shift - real) / real).toBeLessThan(2 ** -30);
    }
    // A significand that rounds up to 2^31 moves to the next exponent.
    expect(quantizeMultiplier(1 - 2 ** -40)).toEqual({ multiplier: 2 ** 30, shift: 1 });
    expect(quantizeMultiplier(0)).toEqual({ multiplier: 0, shift: 0 });
  });

  it('equals gemmlowp on ties, signs, extremes and random accumulators, for right and left shifts', async () => {
    const rand = new Random(7);
    const multipliers = [quantizeMultiplier(0.0213), quantizeMultiplier(0.5), quantizeMultiplier(3.5)];
    const xs: number[] = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31) + 1, -(2 ** 31)];
    for (const { multiplier, shift } of multipliers) {
      // Products that land exactly on a half at either rounding step.
      for (const k of [-3, -1, 1, 3]) {
        const half = 2 ** 30 * k;
        if (Number.isInteger(half / multiplier)) xs.push(half / multiplier);
        const e = Math.max(-shift, 0);
        if (e > 0) xs.push(Math.round((k * 2 ** (e - 1) * 2 ** 31) / multiplier));
      }
    }
    for (let i = 0; i < 4000; i++) xs.push(Math.round((rand.next() * 2 - 1) * 2 ** (8 + (i % 23))));
    for (const m of multipliers) {
      // Left shifts multiply the int32 input first; keep it in int32 as TFLite requires.
      const inputs = m.shift > 0 ? xs.map((x) => Math.trunc(x / 2 ** m.shift)) : xs;
      const g = new GraphBuilder('requant');
      const x = g.input('x', 'int64', [inputs.length]);
      g.output(multiplyByQuantizedMultiplier(g, x, m), 'y');
      const session = await OnnxSession.create(toOnnx(g.build()), { threads: 1 });
      const y = (await session.run({ x: tensor('int64', [inputs.length], inputs) })).y!.data as BigInt64Array;
      await session.release();
      const expected = inputs.map((v) => reference(BigInt(v), m.multiplier, m.shift));
      const wrong = inputs.filter((_, k) => y[k] !== expected[k]);
      expect(wrong, `multiplier ${m.multiplier}·2^${m.shift}`).toEqual([]);
    }
  });

  it('requantises biased accumulators to uint8 codes on the cheap path and the general one', async () => {
    const rand = new Random(9);
    const channels = 4;
    const bias = [0, 12345, -54321, 2 ** 20];
    const n = 3000;
    const acc = Array.from({ length: n }, (_, i) => Math.round((rand.next() * 2 - 1) * 2 ** (6 + (i % 13))));
    // The tight bound allows float64; 2^29 forces int64 (2^29·M0 > 2^53).
    const tight = Math.max(...acc.map(Math.abs)) + Math.max(...bias.map(Math.abs));
    type Case = { m: ReturnType<typeof quantizeMultiplier>; zeroPoint: number; range: [number, number] };
    const cases: (Case & { bound: number })[] = (
      [
        { m: quantizeMultiplier(0.0213), zeroPoint: 0, range: [0, 255] }, // relu6-like: one floor
        { m: quantizeMultiplier(0.0007), zeroPoint: 3, range: [3, 200] }, // one floor, zp > 0
        { m: quantizeMultiplier(0.0213), zeroPoint: 128, range: [0, 255] }, // no activation: general path
        { m: quantizeMultiplier(1.5), zeroPoint: 0, range: [0, 255] }, // left shift
      ] as Case[]
    ).flatMap((c) => [
      { ...c, bound: tight },
      { ...c, bound: 2 ** 29 },
    ]);
    for (const { m, zeroPoint, range, bound } of cases) {
      const g = new GraphBuilder('requant_u8');
      const x = g.input('acc', 'int64', [1, channels, n / channels, 1]);
      g.output(requantizeCodes(g, x, m, { bias, bound, zeroPoint, range }), 'q');
      const graph = g.build();
      const float64 = graph.nodes.some((node) => node.op === 'Floor');
      expect(float64).toBe(bound === tight && range[0] >= zeroPoint);
      const session = await OnnxSession.create(toOnnx(graph), { threads: 1 });
      const q = (await session.run({ acc: tensor('int64', [1, channels, n / channels, 1], acc) })).q!.data;
      await session.release();
      const expected = acc.map((a, i) => {
        const b = bias[Math.floor(i / (n / channels))]!;
        const v = Number(reference(BigInt(a + b), m.multiplier, m.shift)) + zeroPoint;
        return Math.min(range[1], Math.max(range[0], v));
      });
      const wrong = expected.filter((v, i) => q[i] !== v);
      expect(wrong, `zp ${zeroPoint} range ${range} bound ${bound}`).toEqual([]);
    }
  });

  it('turns fused activations into code ranges as CalculateActivationRangeQuantized does', () => {
    expect(activationRange('relu6', 0.023528477177023888, 0)).toEqual([0, 255]);
    expect(activationRange('relu6', 0.05, 10)).toEqual([10, 130]);
    expect(activationRange('relu', 0.1, 100)).toEqual([100, 255]);
    expect(activationRange('none', 0.1, 100)).toEqual([0, 255]);
    expect(activationRange('relu_n1_to_1', 0.01, 128)).toEqual([28, 228]);
  });
});
