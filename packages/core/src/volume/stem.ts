import { basename } from 'node:path';

const VOLUME_SUFFIX = /\.(nii\.gz|nii|mha|mhd|nrrd|nhdr|dcm)$/i;

/** A volume file's name without its folder and its image suffix (`/x/case-7.nii.gz` → `case-7`): its case id. */
export function volumeStem(path: string): string {
  return basename(path.replace(/[\\/]+$/, '')).replace(VOLUME_SUFFIX, '');
}
