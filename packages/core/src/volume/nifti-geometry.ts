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

/** The sform's columns normalised, and how far they are from orthonormal (max |uᵢ·uⱼ − δᵢⱼ|). */
function sformColumns(h: NiftiHeaderInfo): { unit: number[][]; skew: number } | null {
  const columns = [0, 1, 2].map((c) => [0, 1, 2].map((r) => h.srow[r]![c]!));
  const lengths = columns.map((col) => Math.hypot(...col));
  if (lengths.some((n) => !(n > 0))) return null;
  const unit = columns.map((col, c) => col.map((v) => v / lengths[c]!));
  let skew = 0;
  for (let a = 0; a < 3; a++)
    for (let b = 0; b < 3; b++) {
      const dot = unit[a]!.reduce((sum, v, i) => sum + v * unit[b]![i]!, 0);
      skew = Math.max(skew, Math.abs(dot - (a === b ? 1 : 0)));
    }
  return { unit, skew };
}

/**
 * The sform as ITK reads it when it takes the sform: origin from the translation, direction from
 * the normalised columns, spacing from pixdim (never from the column lengths). Null unless the
 * normalised columns are orthonormal to 1e-6, well inside the 1e-4 ITK accepts in float32, so a
 * borderline sform is left to ITK rather than guessed.
 */
function sformGeometry(h: NiftiHeaderInfo): NiftiGeometry | null {
  const cols = sformColumns(h);
  if (!cols || cols.skew > 1e-6) return null;
  const direction = new Float64Array(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) direction[r * 3 + c] = (r < 2 ? -1 : 1) * cols.unit[c]![r]!;
  const spacing = [0, 1, 2].map((k) => Math.abs(h.pixdim[k] ?? 1) || 1) as Vec3;
  return { spacing, origin: [-h.srow[0]![3]!, -h.srow[1]![3]!, h.srow[2]![3]!], direction };
}

/**
 * Why ITK will refuse this header's geometry, or null: an sform that is sheared (or singular)
 * beyond ITK's 1e-4 with no qform to fall back on. A Volume, like ITK's image, is a rotated
 * regular grid, so such a file cannot be represented without resampling.
 */
export function unrepresentableGeometry(h: NiftiHeaderInfo): string | null {
  if (h.qformCode > 0 || h.sformCode <= 0) return null;
  const cols = sformColumns(h);
  if (cols && cols.skew <= 1e-3) return null;
  const how = cols ? `sheared (its axes are off orthogonal by up to ${cols.skew.toExponential(1)})` : 'singular';
  return (
    `its sform is ${how} and there is no qform: a sheared voxel grid cannot be held as a rotated regular grid ` +
    `(as ITK holds images); resample it onto a rigid grid first, or set a qform`
  );
}

/**
 * Geometry from the header alone, where ITK's choice is unambiguous (itkNiftiImageIO,
 * SetImageIOOrientationFromNIfTI): a qform without an sform; a qform and an sform that agree (to
 * 1e-5), so either gives this answer; or an orthonormal sform without a qform, which ITK takes
 * as is (what nibabel writes by default: sform_code 2, qform_code 0). Anything else (neither,
 * qform and sform disagreeing, a sheared sform) returns null, and ITK decides.
 */
export function niftiGeometry(h: NiftiHeaderInfo): NiftiGeometry | null {
  if (h.qformCode <= 0) return h.sformCode > 0 ? sformGeometry(h) : null;
  const q = qformGeometry(h);
  if (h.sformCode > 0) {
    const agree = h.srow.every((row, r) =>
      row.every((v, c) => Math.abs(v - q.ras[r]![c]!) <= 1e-5 * Math.max(1, Math.abs(v))),
    );
    if (!agree) return null;
  }
  return toLps(q.ras, q.spacing);
}
