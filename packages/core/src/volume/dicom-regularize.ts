import type { DicomSeriesReport } from './dicom-series.js';
import { sameType } from './record.js';
import type { Vec3, Volume } from './types.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;

/**
 * Puts a series whose slices do not lie on a regular grid (gantry tilt, uneven gaps) onto one:
 * slices perpendicular to the slice normal, evenly spaced by the mean gap, starting at the first
 * slice. Each output voxel is interpolated from the two stored slices around it, at its true
 * position inside each (a tilted slice is shifted in-plane), so every voxel sits where the
 * scanner measured it. Voxels outside the stored slices get the volume's minimum (air).
 *
 * `stacked` is the series as ITK assembles it: slices in `report.positions` order, in-plane axes
 * along the row and column directions, direction columns (row, column, normal).
 */
export function regularizeSeries(stacked: Volume, report: DicomSeriesReport): Volume {
  const [nx, ny, nz] = stacked.size;
  const d = stacked.direction;
  const r = [d[0]!, d[3]!, d[6]!];
  const c = [d[1]!, d[4]!, d[7]!];
  const n = [r[1]! * c[2]! - r[2]! * c[1]!, r[2]! * c[0]! - r[0]! * c[2]!, r[0]! * c[1]! - r[1]! * c[0]!];
  const [sx, sy] = stacked.spacing;
  const origin = report.positions[0]!;
  const along = report.positions.map((p) => dot(n, p));
  const step = (along[nz - 1]! - along[0]!) / (nz - 1);
  // In-plane offset (in voxels) of the output grid relative to each stored slice's own origin.
  const du = report.positions.map((p) => dot(r, [origin[0]! - p[0]!, origin[1]! - p[1]!, origin[2]! - p[2]!]) / sx);
  const dv = report.positions.map((p) => dot(c, [origin[0]! - p[0]!, origin[1]! - p[1]!, origin[2]! - p[2]!]) / sy);
  const src = stacked.data;
  let fill = Number.POSITIVE_INFINITY;
  for (let i = 0; i < src.length; i++) if (src[i]! < fill) fill = src[i]!;
  const out = sameType(src, src.length);
  const integer = !(out instanceof Float32Array || out instanceof Float64Array);
  const plane = nx * ny;
  // Bilinear sample of stored slice k at (i + du_k, j + dv_k); NaN outside it.
  const sample = (k: number, i: number, j: number): number => {
    const x = i + du[k]!;
    const y = j + dv[k]!;
    if (x < -0.5 || y < -0.5 || x > nx - 0.5 || y > ny - 0.5) return Number.NaN;
    const xc = Math.min(Math.max(x, 0), nx - 1);
    const yc = Math.min(Math.max(y, 0), ny - 1);
    const x0 = Math.floor(xc),
      y0 = Math.floor(yc);
    const x1 = Math.min(x0 + 1, nx - 1),
      y1 = Math.min(y0 + 1, ny - 1);
    const fx = xc - x0,
      fy = yc - y0;
    const base = k * plane;
    const top = src[base + y0 * nx + x0]! * (1 - fx) + src[base + y0 * nx + x1]! * fx;
    const bottom = src[base + y1 * nx + x0]! * (1 - fx) + src[base + y1 * nx + x1]! * fx;
    return top * (1 - fy) + bottom * fy;
  };
  let k = 0;
  for (let t = 0; t < nz; t++) {
    const z = along[0]! + t * step;
    while (k < nz - 2 && along[k + 1]! < z) k++;
    const w = Math.min(1, Math.max(0, (z - along[k]!) / (along[k + 1]! - along[k]!)));
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const a = w < 1 ? sample(k, i, j) : 0;
        const b = w > 0 ? sample(k + 1, i, j) : 0;
        let v = (1 - w) * a + w * b;
        if (Number.isNaN(v)) v = fill;
        out[t * plane + j * nx + i] = integer ? Math.round(v) : v;
      }
  }
  return {
    data: out,
    size: [nx, ny, nz],
    spacing: [sx, sy, step] as Vec3,
    origin: [origin[0]!, origin[1]!, origin[2]!],
    direction: new Float64Array([r[0]!, c[0]!, n[0]!, r[1]!, c[1]!, n[1]!, r[2]!, c[2]!, n[2]!]),
  };
}
