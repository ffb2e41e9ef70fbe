import type { GraphBuilder, Value } from '@anymc3d/core/graph';
import { BUILTIN, type TfliteModel, type TfliteOperator } from '../tflite/index.js';
import { quantizeMultiplier } from './fixed-point.js';

/**
 * Float emulation of TFLite's uint8 activations, for checking the float rebuild against the
 * integer model. TFLite requantises an accumulator with a fixed-point multiplier M = q·2^shift
 * and, in its default build, rounds twice: once at 2^shift granularity (the high multiply), then
 * again when shifting right by −shift (both half away from zero). Rounding once instead shifts a
 * fifth of some layers' outputs by one step, which a 28-layer network accumulates.
 */

/** The right shift TFLite's QuantizeMultiplier gives for a real multiplier (0 when M ≥ 1). */
export function tfliteRightShift(multiplier: number): number {
  return multiplier > 0 ? Math.max(0, -quantizeMultiplier(multiplier).shift) : 0;
}

/** The right shift of the requantisation that produces `op`'s output (TFLite's kernels). */
export function requantShift(model: TfliteModel, op: TfliteOperator): number {
  const scale = (i: number) => model.tensors[i]?.quantization?.scale[0] ?? 0;
  const out = scale(op.outputs[0]!);
  if (!out) return 0;
  if (op.code === BUILTIN.CONV_2D || op.code === BUILTIN.DEPTHWISE_CONV_2D) {
    // TFLite forms input_scale·filter_scale in float32, then divides in double.
    return tfliteRightShift(Math.fround(scale(op.inputs[0]!) * scale(op.inputs[1]!)) / out);
  }
  if (op.code === BUILTIN.ADD) {
    const twiceMax = 2 * Math.max(scale(op.inputs[0]!), scale(op.inputs[1]!));
    return tfliteRightShift(twiceMax / (2 ** 20 * out));
  }
  return 0;
}

function roundHalfAway(g: GraphBuilder, v: Value): Value {
  const up = g.op('Floor', [g.op('Add', [v, g.scalar(0.5)])]);
  const down = g.op('Ceil', [g.op('Sub', [v, g.scalar(0.5)])]);
  return g.op('Where', [g.op('Less', [v, g.scalar(0)]), down, up]);
}

/** y → the value TFLite's uint8 tensor (scale, zero point) would hold, with its double rounding. */
export function emulateUint8(g: GraphBuilder, y: Value, scale: number, zeroPoint: number, rightShift: number): Value {
  let v = roundHalfAway(g, g.op('Mul', [y, g.scalar(2 ** rightShift / scale)]));
  if (rightShift > 0) v = roundHalfAway(g, g.op('Mul', [v, g.scalar(2 ** -rightShift)]));
  const q = g.op('Clip', [g.op('Add', [v, g.scalar(zeroPoint)]), g.scalar(0), g.scalar(255)]);
  return g.op('Mul', [g.op('Sub', [q, g.scalar(zeroPoint)]), g.scalar(scale)]);
}
