/**
 * Along one axis of a separable (trilinear or nearest) sampling, for each output index o at
 * input position x = scale·o + offset: the two input neighbours, the weight of the upper one,
 * and whether x lies inside the input's field of view [−0.5, n − 0.5]. The position is clamped
 * to [0, n − 1] (edge voxels extend to the border, align-corners false); nearest rounds it.
 */
export interface AxisSampling {
  lo: Int32Array;
  hi: Int32Array;
  w: Float32Array;
  inside: Uint8Array;
}

export function axisSampling(
  nOut: number,
  nIn: number,
  scale: number,
  offset: number,
  mode: 'nearest' | 'linear',
): AxisSampling {
  const lo = new Int32Array(nOut);
  const hi = new Int32Array(nOut);
  const w = new Float32Array(nOut);
  const inside = new Uint8Array(nOut);
  for (let o = 0; o < nOut; o++) {
    const raw = scale * o + offset;
    inside[o] = raw < -0.5 || raw > nIn - 0.5 ? 0 : 1;
    const x = Math.min(Math.max(raw, 0), nIn - 1);
    if (mode === 'nearest') {
      lo[o] = hi[o] = Math.min(Math.round(x), nIn - 1);
      continue;
    }
    const f = Math.floor(x);
    lo[o] = f;
    hi[o] = Math.min(f + 1, nIn - 1);
    w[o] = x - f;
  }
  return { lo, hi, w, inside };
}
