import { readCsv } from '@anymc3d/core/datasets';
import { InputError } from '@anymc3d/core/util';
import type { Rescale } from './preprocess.js';
import { bareCaseId } from './score.js';

/**
 * Per-volume rescale from a CT-RATE-style metadata CSV (`VolumeName`, `RescaleSlope`,
 * `RescaleIntercept`), keyed by the bare case name. Only raw volumes use it: HU volumes are
 * never rescaled again, whatever the table says (CT-CLIP#50).
 */
export async function readRescaleTable(path: string): Promise<Map<string, Rescale>> {
  const table = await readCsv(path);
  const col = (name: string) => {
    const i = table.header.indexOf(name);
    if (i < 0) throw new InputError(path, `the header has no "${name}" column`);
    return i;
  };
  const [name, slope, intercept] = [col('VolumeName'), col('RescaleSlope'), col('RescaleIntercept')];
  const out = new Map<string, Rescale>();
  table.rows.forEach((row, r) => {
    const s = Number(row[slope]);
    const b = Number(row[intercept]);
    if (!(Number.isFinite(s) && s !== 0 && Number.isFinite(b)))
      throw new InputError(path, `line ${table.lines[r]}: RescaleSlope/RescaleIntercept must be numbers (slope not 0)`);
    out.set(bareCaseId(row[name]!.trim()).replace(/\.mha$/i, ''), { slope: s, intercept: b });
  });
  return out;
}
