import { type ReadOptions, readVolume } from '../volume/read.js';
import type { Volume } from '../volume/types.js';
import { parseNpzRef } from './image-ref.js';
import { readNpzVolume } from './medmnist.js';

/**
 * The Volume behind one manifest image path: `<file.npz>#<split>/<index>` through
 * `readNpzVolume`, anything else (a volume file or a DICOM series folder) through `readVolume`.
 */
export async function readCaseImage(path: string, options: ReadOptions = {}): Promise<Volume> {
  if (parseNpzRef(path) !== null) return readNpzVolume(path);
  return (await readVolume(path, options)).volume;
}
