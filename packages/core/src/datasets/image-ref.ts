/**
 * A manifest image is a path: a volume file, a DICOM series folder, or one volume inside a
 * NumPy archive written `<file.npz>#<split>/<index>` (MedMNIST keeps a whole split in one array,
 * so its volumes have no files of their own).
 */

export interface NpzVolumeRef {
  /** The .npz archive. */
  file: string;
  /** The array group: `<split>_images` holds the volume. */
  split: string;
  index: number;
}

const NPZ_REF = /^(.*\.npz)#([A-Za-z0-9_-]+)\/(\d+)$/i;

/** The reference to volume `index` of `<split>_images` in an .npz archive. */
export function npzRef(file: string, split: string, index: number): string {
  return `${file}#${split}/${index}`;
}

/** Parses `<file.npz>#<split>/<index>`; any other path gives null. */
export function parseNpzRef(path: string): NpzVolumeRef | null {
  const m = NPZ_REF.exec(path);
  if (m === null) return null;
  return { file: m[1]!, split: m[2]!, index: Number(m[3]) };
}

/** The file on disk that holds an image path's voxels (the archive for an .npz reference). */
export function imageFileOf(path: string): string {
  return parseNpzRef(path)?.file ?? path;
}
