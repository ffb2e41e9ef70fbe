import { stat } from 'node:fs/promises';
import type { ManifestCase } from '@anymc3d/core/task';
import type { VolumeCase } from '@anymc3d/core/train';
import type { CaseInput } from './preprocess.js';

/** Prepared volumes kept at once: a LoRA step reads its case's pixels once per recompute chunk. */
const KEEP = 4;

/**
 * CT-RATE volumes as LoRA training cases, read from disk on demand. A chest prepared for a 224²
 * backbone is ~60 MB of float pixels (100 slices × 3 × 224²), so the 47 k training volumes are
 * never held at once: each case is read and prepared (exactly as `run` prepares it) when core's
 * trainer awaits its `load`, and only the last few stay. Its `contentKey` (file, size, mtime and
 * the preprocessing) keys the resume checkpoint, so a run does not read every volume up front.
 */
export async function volumeCases(
  cases: readonly ManifestCase[],
  read: (path: string) => Promise<CaseInput>,
  preprocessing: unknown,
  onRead?: (reads: number, seconds: number) => void,
): Promise<VolumeCase[]> {
  const recent = new Map<string, CaseInput>();
  let reads = 0;
  let seconds = 0;
  const resident = (c: ManifestCase): CaseInput => {
    const p = recent.get(c.id);
    if (!p) throw new Error(`${c.images[0]}: pixels asked for before the case was loaded`);
    return p;
  };
  const load = async (c: ManifestCase): Promise<void> => {
    const kept = recent.get(c.id);
    recent.delete(c.id);
    if (kept) {
      recent.set(c.id, kept); // most recently used last
      return;
    }
    const started = Date.now();
    const prepared = await read(c.images[0]!);
    seconds += (Date.now() - started) / 1000;
    reads++;
    onRead?.(reads, seconds);
    if (recent.size >= KEEP) recent.delete(recent.keys().next().value!);
    recent.set(c.id, prepared);
  };
  const out: VolumeCase[] = [];
  for (const c of cases) {
    const path = c.images[0]!;
    const s = await stat(path);
    out.push({
      id: c.id,
      labels: Array.from(c.labels),
      contentKey: JSON.stringify({ path, size: s.size, mtime: s.mtimeMs, preprocessing }),
      load: () => load(c),
      get pixels() {
        return resident(c).pixels;
      },
      get slices() {
        return resident(c).slices;
      },
    });
  }
  return out;
}
