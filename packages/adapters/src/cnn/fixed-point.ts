import { type GraphBuilder, tensor, type Value } from '@anymc3d/core/graph';
import type { Activation } from '../tflite/index.js';

/**
 * TFLite's fixed-point requantisation (tensorflow/lite/kernels/internal/common.h, gemmlowp) as
 * int64 graph ops, for the integer-exact MobileNet path. A real multiplier M is stored as
 * M0·2^shift with M0 a Q0.31 integer; an int32 accumulator x becomes
 *   RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x·2^left, M0), right).
 * Both roundings are reproduced exactly; ONNX has no bit ops on signed ints, so each is written
 * with truncating Div on a value whose sign is known (the identities are checked against a
 * literal BigInt port of gemmlowp in fixed-point.test.ts).
 */

export interface QuantizedMultiplier {
  /** Q0.31 significand in [2^30, 2^31). */
  multiplier: number;
  /** Power of two: > 0 shifts left, < 0 right. */
  shift: number;
}

/** TFLite's QuantizeMultiplier: frexp, then round the significand to 31 bits. */
export function quantizeMultiplier(real: number): QuantizedMultiplier {
  if (real === 0) return { multiplier: 0, shift: 0 };
  if (!(real > 0) || !Number.isFinite(real)) throw new Error(`multiplier ${real} must be positive and finite`);
  let shift = Math.floor(Math.log2(real)) + 1;
  let q = real / 2 ** shift;
  // frexp convention q ∈ [0.5, 1); log2 can land one off next to a power of two.
  if (q >= 1) {
    q /= 2;
    shift += 1;
  } else if (q < 0.5) {
    q *= 2;
    shift -= 1;
  }
  // std::round: half away from zero (q > 0).
  let multiplier = Math.round(q * 2 ** 31);
  if (multiplier === 2 ** 31) {
    multiplier /= 2;
    shift += 1;
  }
  return { multiplier, shift };
}

/**
 * int64 x (holding int32 values) × M0·2^shift, rounded as TFLite does. With |x| < 2^31 and
 * M0 < 2^31 every intermediate stays below 2^63.
 */
export function multiplyByQuantizedMultiplier(g: GraphBuilder, x: Value, m: QuantizedMultiplier): Value {
  const i64 = (v: number) => g.scalar(v, 'int64');
  const left = Math.max(m.shift, 0);
  const right = Math.max(-m.shift, 0);
  const shifted = left > 0 ? g.op('Mul', [x, i64(2 ** left)]) : x;
  // SaturatingRoundingDoublingHighMul = floor((x·M0 + 2^30) / 2^31) for every sign (its nudge
  // 1 − 2^30 for negative products plus C++'s truncation is a floor). The 2^62 offset makes
  // the dividend non-negative so ONNX's truncating Div floors; it is taken off afterwards.
  const product = g.op('Mul', [shifted, i64(m.multiplier)]);
  const high = g.op('Sub', [g.op('Div', [g.op('Add', [product, i64(2 ** 30 + 2 ** 62)]), i64(2 ** 31)]), i64(2 ** 31)]);
  if (right === 0) return high;
  // RoundingDivideByPOT: round to nearest, ties away from zero = sign(x)·⌊(|x| + 2^(e−1)) / 2^e⌋.
  const magnitude = g.op('Div', [g.op('Add', [g.op('Abs', [high]), i64(2 ** (right - 1))]), i64(2 ** right)]);
  return g.op('Mul', [g.op('Sign', [high]), magnitude]);
}

/**
 * An integer conv accumulator (before its bias) → codes: + bias, ×M, + zero point, clamped
 * to `range`, exactly as TFLite. `acc` holds integers (float32 from an exact float conv, or
 * int32); `bound` bounds |acc| + |bias| (from the weights), which picks the cheapest exact form:
 *
 * - Where range[0] ≥ zero point, every negative requantised value clamps to range[0] however
 *   it was rounded, so RoundingDivideByPOT may round ties up instead of away from zero. Then
 *   SRDHM followed by it is one floor: ⌊(⌊(p + 2^30)/2^31⌋ + 2^(e−1)) / 2^e⌋ =
 *   ⌊(p + 2^30 + 2^(30+e)) / 2^(31+e)⌋ with p = (acc + bias)·M0.
 * - That floor is computed in float64 when p and the added constants stay below 2^53 (every
 *   step then exact, and float64 ops are vectorised), else in int64 (ONNX Runtime's int64 Mul
 *   and Div are scalar).
 * - Otherwise (no clamp below the zero point) the general path of multiplyByQuantizedMultiplier.
 */
export function requantizeCodes(
  g: GraphBuilder,
  acc: Value,
  m: QuantizedMultiplier,
  options: {
    bias?: readonly number[];
    bound: number;
    zeroPoint: number;
    range: [number, number];
    /** The codes' type: uint8, or float32 holding them (saves a Cast before a float conv). */
    as?: CodeType;
  },
): Value {
  const { zeroPoint, range } = options;
  const to = castTo(options.as);
  const channels = options.bias?.length ?? 0;
  const perChannel = (dtype: 'int64' | 'float64', values: readonly (number | bigint)[], hint: string): Value =>
    options.bias
      ? g.constant(tensor(dtype, [1, channels, 1, 1], toTyped(dtype, values)), hint)
      : g.constant(tensor(dtype, [], toTyped(dtype, values.slice(0, 1))), hint);
  const bias = options.bias ?? [0];
  const right = Math.max(-m.shift, 0);
  if (range[0] < zeroPoint) {
    const acc64 = g.op('Cast', [acc], { to: 7 /* INT64 */ });
    const biased = options.bias ? g.op('Add', [acc64, perChannel('int64', bias, 'bias_i32')]) : acc64;
    return toCodes(g, multiplyByQuantizedMultiplier(g, biased, m), zeroPoint, range, options.as);
  }
  // TFLite shifts (acc + bias) left before the high multiply; folding 2^left into M0 is the same.
  const multiplier = BigInt(m.multiplier) * 2n ** BigInt(Math.max(m.shift, 0));
  const k = 31n + BigInt(right);
  const rounding = 2n ** 30n + (right > 0 ? 2n ** (30n + BigInt(right)) : 0n);
  const bound = BigInt(Math.ceil(options.bound)) * multiplier;
  const constant = (b: number, offset: bigint) => BigInt(b) * multiplier + rounding + offset;
  const zpTerm = BigInt(zeroPoint) * 2n ** k;
  const clip = (v: Value, dtype: 'int64' | 'float64') =>
    g.op('Clip', [v, g.constant(tensor(dtype, [], [range[0]])), g.constant(tensor(dtype, [], [range[1]]))]);
  if (bound + rounding + (zpTerm < 0n ? -zpTerm : zpTerm) < 2n ** 53n) {
    // code = ⌊acc·M/2^k + (bias·M + rounding + zp·2^k)/2^k⌋: scaling by 2^−k is exact.
    const scale = 2 ** -Number(k);
    const accD = g.op('Cast', [acc], { to: 11 /* DOUBLE */ });
    const product = g.op('Mul', [accD, g.constant(tensor('float64', [], [Number(multiplier) * scale]), 'multiplier')]);
    const offsets = bias.map((b) => Number(constant(b, zpTerm)) * scale);
    const floored = g.op('Floor', [g.op('Add', [product, perChannel('float64', offsets, 'requant_offset')])]);
    return g.op('Cast', [clip(floored, 'float64')], { to });
  }
  // int64: a multiple of 2^k above the bound keeps the dividend non-negative, so the
  // truncating Div floors; it is taken off with the zero point.
  const lift = (bound / 2n ** k + 1n) * 2n ** k;
  if (bound + rounding + lift >= 2n ** 63n) throw new Error(`accumulators up to ${options.bound} overflow int64`);
  const acc64 = g.op('Cast', [acc], { to: 7 /* INT64 */ });
  const product = g.op('Mul', [acc64, g.constant(tensor('int64', [], BigInt64Array.of(multiplier)), 'multiplier')]);
  const offsets = bias.map((b) => constant(b, lift));
  const lifted = g.op('Add', [product, perChannel('int64', offsets, 'requant_offset')]);
  const floored = g.op('Div', [lifted, g.constant(tensor('int64', [], BigInt64Array.of(2n ** k)), 'pot')]);
  const shifted = g.op('Add', [
    floored,
    g.constant(tensor('int64', [], BigInt64Array.of(BigInt(zeroPoint) - lift / 2n ** k))),
  ]);
  return g.op('Cast', [clip(shifted, 'int64')], { to });
}

/** How codes travel between layers: uint8, or float32 holding the same integers. */
export type CodeType = 'uint8' | 'float32';

function castTo(as: CodeType = 'uint8'): number {
  return as === 'float32' ? 1 /* FLOAT */ : 2 /* UINT8 */;
}

/** `v` as codes of type `as` (a Cast only when it is not one already). */
export function asCodes(g: GraphBuilder, v: Value, as: CodeType): Value {
  return v.dtype === as ? v : g.op('Cast', [v], { to: castTo(as) });
}

function toTyped(dtype: 'int64' | 'float64', values: readonly (number | bigint)[]): BigInt64Array | Float64Array {
  return dtype === 'int64' ? BigInt64Array.from(values, (v) => BigInt(v)) : Float64Array.from(values, (v) => Number(v));
}

/** TfLiteRound: half away from zero. */
function roundAway(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

/** CalculateActivationRangeQuantized for uint8 outputs: the fused activation as a code range. */
export function activationRange(activation: Activation, scale: number, zeroPoint: number): [number, number] {
  const code = (real: number) => zeroPoint + roundAway(real / scale);
  switch (activation) {
    case 'none':
      return [0, 255];
    case 'relu':
      return [Math.max(0, code(0)), 255];
    case 'relu6':
      return [Math.max(0, code(0)), Math.min(255, code(6))];
    case 'relu_n1_to_1':
      return [Math.max(0, code(-1)), Math.min(255, code(1))];
    default:
      throw new Error(`fused activation ${activation} has no integer range`);
  }
}

/** int64 values + zero point, clamped to [lo, hi], as codes. */
export function toCodes(
  g: GraphBuilder,
  x: Value,
  zeroPoint: number,
  range: [number, number],
  as: CodeType = 'uint8',
): Value {
  const shifted = zeroPoint !== 0 ? g.op('Add', [x, g.scalar(zeroPoint, 'int64')]) : x;
  const clipped = g.op('Clip', [shifted, g.scalar(range[0], 'int64'), g.scalar(range[1], 'int64')]);
  return g.op('Cast', [clipped], { to: castTo(as) });
}

/** Codes → real values scale·(q − zero point), float32. */
export function dequantizeCodes(g: GraphBuilder, codes: Value, scale: number, zeroPoint: number): Value {
  const f = asCodes(g, codes, 'float32');
  const centred = zeroPoint !== 0 ? g.op('Sub', [f, g.scalar(zeroPoint)]) : f;
  return scale === 1 ? centred : g.op('Mul', [centred, g.scalar(scale)]);
}
