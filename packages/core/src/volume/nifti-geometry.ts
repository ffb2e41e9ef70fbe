import type { NiftiHeaderInfo } from './nifti-header.js';
import type { Vec3 } from './types.js';

export interface NiftiGeometry {
  spacing: Vec3;
  origin: Vec3;
  /** Row-major 3×3, LPS. */
  direction: Float64Array;
}

/** The qform as RAS rotation (with qfac on the third column), spacing and offset (NIfTI-1 method 2). */
function qformGeometry(h: NiftiHeaderInfo): { ras: number[][]; spacing: Vec3 } {
  let [b, c, d] = h.quatern;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    const n = Math.hypot(b, c, d);
    b /= n;
    c /= n;
    d /= n;
    a = 0;
  } else a = Math.sqrt(a);
  const qfac = h.qfac < 0 ? -1 : 1;
  const R = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const spacing = [0, 1, 2].map((k) => Math.abs(h.pixdim[k] ?? 1) || 1) as Vec3;
  const ras = R.map((row, r) => [
    row[0]! * spacing[0],
    row[1]! * spacing[1],
    row[2]! * spacing[2] * qfac,
    h.qoffset[r]!,
  ]);
  return { ras, spacing };
}

function toLps(ras: number[][], spacing: Vec3): NiftiGeometry {
  const direction = new Float64Array(9);
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++) direction[r * 3 + c] = ((r < 2 ? -1 : 1) * ras[r]![c]!) / spacing[c]!;
  return { spacing, origin: [-ras[0]![3]!, -ras[1]![3]!, ras[2]![3]!], direction };
}

/**
 * Geometry from the header alone, where it is unambiguous: a qform without an sform, or a qform
 * and an sform that agree (to 1e-5). Then ITK's answer is this one whichever transform it
 * prefers. Anything else (no qform, qform and sform disagreeing, a non-rigid sform) returns
 * null, and ITK decides.
 */
export function niftiGeometry(h: NiftiHeaderInfo): NiftiGeometry | null {
  if (h.qformCode <= 0) return null;
  const q = qformGeometry(h);
  if (h.sformCode > 0) {
    const agree = h.srow.every((row, r) =>
      row.every((v, c) => Math.abs(v - q.ras[r]![c]!) <= 1e-5 * Math.max(1, Math.abs(v))),
    );
    if (!agree) return null;
  }
  return toLps(q.ras, q.spacing);
}
