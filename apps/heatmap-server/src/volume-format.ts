import { constants, gunzipSync, inflateRawSync } from 'node:zlib';

export type VolumeFormat = 'nifti' | 'nifti-gz' | 'nrrd' | 'mha' | 'dicom-zip';

/** The file name extension each format is stored under (viewers infer the type from it). */
export const FORMAT_EXTENSION: Record<VolumeFormat, string> = {
  nifti: '.nii',
  'nifti-gz': '.nii.gz',
  nrrd: '.nrrd',
  mha: '.mha',
  'dicom-zip': '.zip',
};

/** How many leading bytes `detectVolumeFormat` needs to decide. */
export const SNIFF_BYTES = 64 * 1024;

/**
 * Tells a volume's format from its first bytes, never from its name: an upload called
 * `scan.nii.gz` that holds a PDF is refused. Returns null for anything that is not a volume.
 */
export function detectVolumeFormat(head: Uint8Array): VolumeFormat | null {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    return isNiftiHeader(gunzipPrefix(head)) ? 'nifti-gz' : null;
  }
  if (isNiftiHeader(head)) return 'nifti';
  const text = ascii(head, 0, Math.min(head.length, 4096));
  if (text.startsWith('NRRD000')) return 'nrrd';
  if (isMetaImageHeader(text)) return 'mha';
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4) {
    return zipHoldsDicom(head) ? 'dicom-zip' : null;
  }
  return null;
}

/** NIfTI-1: sizeof_hdr = 348 (either byte order) and magic 'n+1\0' or 'ni1\0' at 344. */
export function isNiftiHeader(bytes: Uint8Array): boolean {
  if (bytes.length < 348) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getInt32(0, true) !== 348 && view.getInt32(0, false) !== 348) return false;
  const magic = ascii(bytes, 344, 348);
  return magic === 'n+1\0' || magic === 'ni1\0';
}

function isMetaImageHeader(text: string): boolean {
  // MetaImage header lines are `Key = Value`; ObjectType = Image is the one every writer emits
  // (ITK puts it first, others after a comment or NDims).
  const lines = text.split(/\r?\n/).slice(0, 40);
  return lines.some((l) => /^\s*ObjectType\s*=\s*Image\s*$/i.test(l));
}

/**
 * Inflates the start of a gzip stream (a truncated stream is expected here). Only the first
 * 4 KiB go in: deflate expands at most ~1032×, so the output stays under 8 MiB however
 * compressible the volume is, and is far more than the 348 header bytes needed.
 */
export function gunzipPrefix(head: Uint8Array): Uint8Array {
  try {
    return gunzipSync(head.subarray(0, 4096), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: 8 << 20 });
  } catch {
    return new Uint8Array(0);
  }
}

/**
 * A DICOM series zip: walks the local file headers within the bytes given and checks the first
 * file that can be read for the 'DICM' tag at offset 128 of its content.
 */
function zipHoldsDicom(head: Uint8Array): boolean {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let offset = 0;
  for (let entries = 0; entries < 64 && offset + 30 <= head.length; entries++) {
    if (view.getUint32(offset, true) !== 0x04034b50) return false;
    const flags = view.getUint16(offset + 6, true);
    const method = view.getUint16(offset + 8, true);
    const compressedSize = view.getUint32(offset + 18, true);
    const nameLength = view.getUint16(offset + 26, true);
    const extraLength = view.getUint16(offset + 28, true);
    const name = ascii(head, offset + 30, offset + 30 + nameLength);
    const dataStart = offset + 30 + nameLength + extraLength;
    const isFolder = name.endsWith('/');
    if (!isFolder && (flags & 1) === 0) {
      const known = (flags & 8) === 0 && compressedSize > 0 ? compressedSize : Number.POSITIVE_INFINITY;
      const content = entryPrefix(head.subarray(dataStart, dataStart + Math.min(known, 4096)), method);
      if (content === null) return false;
      // The first file long enough to hold a preamble decides; shorter ones (a note) are skipped.
      if (content.length >= 132) return ascii(content, 128, 132) === 'DICM';
      if ((flags & 8) !== 0 || dataStart + compressedSize > head.length) return false;
    }
    // A size known only after the data (flag 8) cannot be skipped from the local header.
    if ((flags & 8) !== 0) return false;
    offset = dataStart + compressedSize;
  }
  return false;
}

/** The start of an entry's content from (at most 4 KiB of) its stored or deflated bytes. */
function entryPrefix(data: Uint8Array, method: number): Uint8Array | null {
  if (method === 0) return data.subarray(0, 132);
  if (method !== 8) return null;
  try {
    return inflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: 8 << 20 });
  } catch {
    return null;
  }
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.max(0, Math.min(end, bytes.length) - start)).toString(
    'latin1',
  );
}
