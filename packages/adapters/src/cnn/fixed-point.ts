import type { GraphBuilder, Value } from '@anymc3d/core/graph';
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

/** int64 codes + zero point, clamped to [lo, hi], as uint8. */
export function toUint8(g: GraphBuilder, x: Value, zeroPoint: number, range: [number, number]): Value {
  const shifted = zeroPoint !== 0 ? g.op('Add', [x, g.scalar(zeroPoint, 'int64')]) : x;
  const clipped = g.op('Clip', [shifted, g.scalar(range[0], 'int64'), g.scalar(range[1], 'int64')]);
  return g.op('Cast', [clipped], { to: 2 /* UINT8 */ });
}

/** uint8 codes → real values scale·(q − zero point), float32. */
export function dequantizeCodes(g: GraphBuilder, codes: Value, scale: number, zeroPoint: number): Value {
  const f = g.op('Cast', [codes], { to: 1 /* FLOAT */ });
  const centred = zeroPoint !== 0 ? g.op('Sub', [f, g.scalar(zeroPoint)]) : f;
  return g.op('Mul', [centred, g.scalar(scale)]);
}
