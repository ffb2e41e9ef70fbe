import type { Grid, Vec3 } from './types.js';

/** A 4×4 affine, row-major (`m[row*4+col]`). */
export type Affine = Float64Array;

export function identityAffine(): Affine {
  const m = new Float64Array(16);
  m[0] = m[5] = m[10] = m[15] = 1;
  return m;
}

export function multiplyAffine(a: Affine, b: Affine): Affine {
  const out = new Float64Array(16);
  for (let r = 0; r < 4; r++)
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[r * 4 + k]! * b[k * 4 + c]!;
      out[r * 4 + c] = s;
    }
  return out;
}

/** Inverse of an affine whose last row is 0 0 0 1. */
export function invertAffine(m: Affine): Affine {
  const a = m[0]!,
    b = m[1]!,
    c = m[2]!,
    d = m[4]!,
    e = m[5]!,
    f = m[6]!,
    g = m[8]!,
    h = m[9]!,
    i = m[10]!;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (!Number.isFinite(det) || Math.abs(det) < 1e-300) throw new Error('affine is singular');
  const inv = new Float64Array(16);
  inv[0] = (e * i - f * h) / det;
  inv[1] = (c * h - b * i) / det;
  inv[2] = (b * f - c * e) / det;
  inv[4] = (f * g - d * i) / det;
  inv[5] = (a * i - c * g) / det;
  inv[6] = (c * d - a * f) / det;
  inv[8] = (d * h - e * g) / det;
  inv[9] = (b * g - a * h) / det;
  inv[10] = (a * e - b * d) / det;
  for (let r = 0; r < 3; r++)
    inv[r * 4 + 3] = -(inv[r * 4]! * m[3]! + inv[r * 4 + 1]! * m[7]! + inv[r * 4 + 2]! * m[11]!);
  inv[15] = 1;
  return inv;
}

export function applyAffine(m: Affine, p: readonly number[]): Vec3 {
  const x = p[0]!,
    y = p[1]!,
    z = p[2]!;
  return [
    m[0]! * x + m[1]! * y + m[2]! * z + m[3]!,
    m[4]! * x + m[5]! * y + m[6]! * z + m[7]!,
    m[8]! * x + m[9]! * y + m[10]! * z + m[11]!,
  ];
}

/** Index (i,j,k) → LPS world: origin + direction · diag(spacing) · index. */
export function indexToWorldAffine(g: Grid): Affine {
  const m = identityAffine();
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) m[r * 4 + c] = g.direction[r * 3 + c]! * g.spacing[c]!;
    m[r * 4 + 3] = g.origin[r]!;
  }
  return m;
}

export function indexToWorld(g: Grid, index: readonly number[]): Vec3 {
  return applyAffine(indexToWorldAffine(g), index);
}

export function worldToIndex(g: Grid, world: readonly number[]): Vec3 {
  return applyAffine(invertAffine(indexToWorldAffine(g)), world);
}

/** The RAS affine nibabel reports for the same file: LPS → RAS negates the first two world rows. */
export function affineRAS(g: Grid): Affine {
  const m = indexToWorldAffine(g);
  for (let c = 0; c < 4; c++) {
    m[c] = -m[c]!;
    m[4 + c] = -m[4 + c]!;
  }
  return m;
}

/** Builds a grid from a RAS affine (as nibabel's `img.affine`), for tests and interop. */
export function gridFromAffineRAS(size: Vec3, ras: readonly (readonly number[])[]): Grid {
  const spacing = [0, 1, 2].map((c) => Math.hypot(ras[0]![c]!, ras[1]![c]!, ras[2]![c]!)) as Vec3;
  const direction = new Float64Array(9);
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++) direction[r * 3 + c] = ((r < 2 ? -1 : 1) * ras[r]![c]!) / spacing[c]!;
  const origin: Vec3 = [-ras[0]![3]!, -ras[1]![3]!, ras[2]![3]!];
  return { size, spacing, origin, direction };
}

export function affineRows(m: Affine): number[][] {
  return [0, 1, 2, 3].map((r) => Array.from(m.subarray(r * 4, r * 4 + 4)));
}

export interface GeometryMismatch {
  field: 'size' | 'spacing' | 'origin' | 'direction';
  a: number[];
  b: number[];
}

/** The first field in which two grids differ (size exactly, the rest within `tolerance`), or null. */
export function geometryMismatch(a: Grid, b: Grid, tolerance = 1e-4): GeometryMismatch | null {
  if (a.size.some((s, i) => s !== b.size[i])) return { field: 'size', a: [...a.size], b: [...b.size] };
  const close = (x: ArrayLike<number>, y: ArrayLike<number>) =>
    Array.from(x).every((v, i) => Math.abs(v - y[i]!) <= tolerance);
  if (!close(a.spacing, b.spacing)) return { field: 'spacing', a: [...a.spacing], b: [...b.spacing] };
  if (!close(a.origin, b.origin)) return { field: 'origin', a: [...a.origin], b: [...b.origin] };
  if (!close(a.direction, b.direction))
    return { field: 'direction', a: Array.from(a.direction), b: Array.from(b.direction) };
  return null;
}

/** The three-letter orientation code (ITK style, e.g. 'LPS', 'RAS') each index axis points to. */
export function orientationCode(direction: Float64Array): string {
  const letters = [
    ['L', 'R'],
    ['P', 'A'],
    ['S', 'I'],
  ];
  let code = '';
  for (let c = 0; c < 3; c++) {
    let best = 0;
    for (let r = 1; r < 3; r++) if (Math.abs(direction[r * 3 + c]!) > Math.abs(direction[best * 3 + c]!)) best = r;
    code += letters[best]![direction[best * 3 + c]! >= 0 ? 0 : 1];
  }
  return code;
}
