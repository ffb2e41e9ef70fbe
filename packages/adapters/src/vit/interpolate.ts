/**
 * PyTorch's bicubic resize of a [C,H,W] float grid (align_corners=False), computed once per input
 * size when a graph is built, so position embeddings match the reference implementations:
 * - plain (`antialias: false`): Keys' cubic with A = −0.75, source index (dst+0.5)·in/out − 0.5,
 *   edge taps clamped — `F.interpolate(mode='bicubic')`, as Hugging Face `Dinov2Model` uses it;
 * - antialiased (`antialias: true`): PIL's cubic with a = −0.5, support widened by in/out when
 *   shrinking, taps cut at the edges and weights renormalised — `antialias=True`, as
 *   `Dinov2WithRegistersModel` uses it.
 */

interface AxisTaps {
  /** For each output index: first input index and its weights (taps beyond the edge clamped). */
  index: Int32Array[];
  weight: Float64Array[];
}

function cubicKeys(x: number, a: number): number {
  const t = Math.abs(x);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

function plainTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const index: Int32Array[] = [];
  const weight: Float64Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const real = scale * (o + 0.5) - 0.5;
    const base = Math.floor(real);
    const t = real - base;
    const idx = new Int32Array(4);
    const w = new Float64Array(4);
    for (let k = 0; k < 4; k++) {
      idx[k] = Math.min(Math.max(base - 1 + k, 0), inSize - 1);
      w[k] = cubicKeys(t + 1 - k, -0.75);
    }
    index.push(idx);
    weight.push(w);
  }
  return { index, weight };
}

function antialiasTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const support = scale >= 1 ? 2 * scale : 2;
  const invScale = scale >= 1 ? 1 / scale : 1;
  const index: Int32Array[] = [];
  const weight: Float64Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const center = scale * (o + 0.5);
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const idx = new Int32Array(hi - lo);
    const w = new Float64Array(hi - lo);
    let total = 0;
    for (let j = 0; j < hi - lo; j++) {
      idx[j] = lo + j;
      w[j] = cubicKeys((lo + j - center + 0.5) * invScale, -0.5);
      total += w[j]!;
    }
    if (total !== 0) for (let j = 0; j < w.length; j++) w[j]! /= total;
    index.push(idx);
    weight.push(w);
  }
  return { index, weight };
}

export function bicubicResize(
  src: Float32Array,
  channels: number,
  inSize: [number, number],
  outSize: [number, number],
  antialias: boolean,
): Float32Array {
  const [inH, inW] = inSize;
  const [outH, outW] = outSize;
  const taps = antialias ? antialiasTaps : plainTaps;
  const rows = taps(inH, outH);
  const cols = taps(inW, outW);
  // Width first, then height (both in float64; PyTorch's order only moves the last float bit).
  const wide = new Float64Array(channels * inH * outW);
  for (let c = 0; c < channels; c++)
    for (let y = 0; y < inH; y++) {
      const row = (c * inH + y) * inW;
      for (let x = 0; x < outW; x++) {
        const idx = cols.index[x]!;
        const w = cols.weight[x]!;
        let acc = 0;
        for (let k = 0; k < idx.length; k++) acc += w[k]! * src[row + idx[k]!]!;
        wide[(c * inH + y) * outW + x] = acc;
      }
    }
  const out = new Float32Array(channels * outH * outW);
  for (let c = 0; c < channels; c++)
    for (let y = 0; y < outH; y++) {
      const idx = rows.index[y]!;
      const w = rows.weight[y]!;
      for (let x = 0; x < outW; x++) {
        let acc = 0;
        for (let k = 0; k < idx.length; k++) acc += w[k]! * wide[(c * inH + idx[k]!) * outW + x]!;
        out[(c * outH + y) * outW + x] = acc;
      }
    }
  return out;
}

/**
 * A learned square position grid stored token-major ([g0·g0, d], as checkpoints keep it) resized
 * to [gh, gw] the way the families' `interpolate_pos_encoding` do: to channel-major, bicubic, back
 * to token-major [gh·gw, d]. The native grid is returned as is.
 */
export function resizePositionGrid(
  positions: Float32Array,
  d: number,
  g0: number,
  grid: readonly [number, number],
  antialias: boolean,
): Float32Array {
  const [gh, gw] = grid;
  if (gh === g0 && gw === g0) return positions;
  const chw = new Float32Array(d * g0 * g0);
  for (let t = 0; t < g0 * g0; t++) for (let c = 0; c < d; c++) chw[c * g0 * g0 + t] = positions[t * d + c]!;
  const resized = bicubicResize(chw, d, [g0, g0], [gh, gw], antialias);
  const P = gh * gw;
  const out = new Float32Array(P * d);
  for (let t = 0; t < P; t++) for (let c = 0; c < d; c++) out[t * d + c] = resized[c * P + t]!;
  return out;
}
