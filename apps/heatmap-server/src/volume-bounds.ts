import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { InputError } from '@anymc3d/core/util';
import { NIFTI_SCALAR_BYTES, type NiftiHeaderInfo, parseNiftiHeader } from '@anymc3d/core/volume';
import { HttpError } from './http-util.js';
import { gunzipPrefix, SNIFF_BYTES, type VolumeFormat } from './volume-format.js';

/** What a volume's header declares: its size in voxels and the bytes its data takes once inflated. */
export interface DeclaredVolume {
  dims: number[];
  voxels: number;
  /** Bytes of voxel data, and where the data starts in the (inflated) stream. */
  dataBytes: number;
  dataOffset: number;
  /** gzip-compressed data: inflated while counting, never past what the header declares. */
  gzip: boolean;
}

const NRRD_BYTES: Record<string, number> = {
  'signed char': 1,
  int8: 1,
  int8_t: 1,
  uchar: 1,
  'unsigned char': 1,
  uint8: 1,
  uint8_t: 1,
  short: 2,
  'short int': 2,
  'signed short': 2,
  'signed short int': 2,
  int16: 2,
  int16_t: 2,
  ushort: 2,
  'unsigned short': 2,
  'unsigned short int': 2,
  uint16: 2,
  uint16_t: 2,
  int: 4,
  'signed int': 4,
  int32: 4,
  int32_t: 4,
  uint: 4,
  'unsigned int': 4,
  uint32: 4,
  uint32_t: 4,
  float: 4,
  double: 8,
  longlong: 8,
  int64: 8,
  int64_t: 8,
  ulonglong: 8,
  uint64: 8,
  uint64_t: 8,
};
const MET_BYTES: Record<string, number> = {
  MET_CHAR: 1,
  MET_UCHAR: 1,
  MET_SHORT: 2,
  MET_USHORT: 2,
  MET_INT: 4,
  MET_UINT: 4,
  MET_LONG: 4,
  MET_ULONG: 4,
  MET_LONG_LONG: 8,
  MET_ULONG_LONG: 8,
  MET_FLOAT: 4,
  MET_DOUBLE: 8,
};

const unreadable = (why: string) => new HttpError(422, 'bad_header', `the volume's header ${why}`);

/** Core's NIfTI-1/2 header reader (the one the volume module reads with); its refusal becomes a 422. */
function niftiDeclared(header: Uint8Array, gzip: boolean): DeclaredVolume {
  let info: NiftiHeaderInfo;
  try {
    info = parseNiftiHeader('upload', Buffer.from(header.buffer, header.byteOffset, header.byteLength));
  } catch (error) {
    if (error instanceof InputError) throw unreadable(`is not readable: ${error.problem}`);
    throw error;
  }
  if (!NIFTI_SCALAR_BYTES[info.datatype])
    throw unreadable(`has datatype ${info.datatype}, which is not a scalar voxel type`);
  const voxels = info.dims.reduce((a, b) => a * b, 1);
  const headerEnd = info.version === 1 ? 352 : 544;
  return {
    dims: info.dims,
    voxels,
    dataBytes: voxels * info.bytesPerVoxel,
    dataOffset: Math.max(headerEnd, Math.floor(info.voxOffset)),
    gzip,
  };
}

function textHeader(head: Uint8Array): { text: string; end: number } {
  const s = Buffer.from(head).toString('latin1');
  const m = /\r?\n\r?\n/.exec(s);
  return m ? { text: s.slice(0, m.index), end: m.index + m[0].length } : { text: s, end: -1 };
}

function nrrdDeclared(head: Uint8Array): DeclaredVolume {
  const { text, end } = textHeader(head);
  if (end < 0) throw unreadable(`does not end within its first ${SNIFF_BYTES} bytes`);
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(text)?.[1]?.trim();
  if (field('data ?file')) throw unreadable('points to a detached data file; upload a .nrrd with its data attached');
  const dims = (field('sizes') ?? '').split(/\s+/).filter(Boolean).map(Number);
  if (!dims.length || dims.some((d) => !(Number.isInteger(d) && d >= 1))) throw unreadable('has no valid "sizes"');
  const bytes = NRRD_BYTES[(field('type') ?? '').toLowerCase()];
  if (!bytes) throw unreadable(`has type "${field('type')}", not a scalar voxel type`);
  const encoding = (field('encoding') ?? 'raw').toLowerCase();
  if (!['raw', 'gzip', 'gz'].includes(encoding)) throw unreadable(`has encoding "${encoding}" (raw or gzip are read)`);
  const voxels = dims.reduce((a, b) => a * b, 1);
  return { dims, voxels, dataBytes: voxels * bytes, dataOffset: end, gzip: encoding !== 'raw' };
}

function mhaDeclared(head: Uint8Array): DeclaredVolume {
  const s = Buffer.from(head).toString('latin1');
  const data = /^ElementDataFile\s*=\s*(\S+)[^\n]*\n/m.exec(s);
  if (!data) throw unreadable(`has no ElementDataFile within its first ${SNIFF_BYTES} bytes`);
  if (data[1] !== 'LOCAL') throw unreadable('points to a detached data file; upload a .mha with its data inside');
  const text = s.slice(0, data.index);
  const field = (name: string) => new RegExp(`^\\s*${name}\\s*=\\s*(.+)$`, 'mi').exec(text)?.[1]?.trim();
  const dims = (field('DimSize') ?? '').split(/\s+/).filter(Boolean).map(Number);
  if (!dims.length || dims.some((d) => !(Number.isInteger(d) && d >= 1))) throw unreadable('has no valid DimSize');
  const bytes = MET_BYTES[field('ElementType') ?? ''];
  if (!bytes) throw unreadable(`has ElementType "${field('ElementType')}", not a scalar voxel type`);
  const channels = Number(field('ElementNumberOfChannels') ?? 1);
  const voxels = dims.reduce((a, b) => a * b, 1) * (Number.isInteger(channels) && channels > 0 ? channels : 1);
  const gzip = /^(true|1)$/i.test(field('CompressedData') ?? 'false');
  return { dims, voxels, dataBytes: voxels * bytes, dataOffset: data.index + data[0].length, gzip };
}

/** The header's declaration, from the first bytes of the stored upload. */
export async function declaredVolume(path: string, format: VolumeFormat): Promise<DeclaredVolume> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    const bytes = new Uint8Array(head.buffer, head.byteOffset, bytesRead);
    if (format === 'nifti') return niftiDeclared(bytes, false);
    if (format === 'nifti-gz') return niftiDeclared(gunzipPrefix(bytes), true);
    if (format === 'nrrd') return nrrdDeclared(bytes);
    if (format === 'mha') return mhaDeclared(bytes);
    throw unreadable(`of a ${format} upload is not read by the server`);
  } finally {
    await handle.close();
  }
}

/**
 * Inflates a gzip stream (from `start` of the file) while counting, and stops as soon as it
 * passes `limit` bytes: a 2 MB upload that would inflate to gigabytes costs `limit` bytes of work.
 */
function inflatedBytes(path: string, start: number, limit: number): Promise<{ bytes: number; over: boolean }> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let done = false;
    const source = createReadStream(path, { start });
    const gunzip = createGunzip();
    const finish = (over: boolean) => {
      if (done) return;
      done = true;
      source.destroy();
      gunzip.destroy();
      resolve({ bytes, over });
    };
    gunzip.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit) finish(true);
    });
    gunzip.on('end', () => finish(false));
    gunzip.on('error', (error) => {
      if (!done) {
        done = true;
        source.destroy();
        reject(new HttpError(422, 'bad_gzip', `the gzip stream is damaged (${error.message})`));
      }
    });
    source.on('error', reject);
    source.pipe(gunzip);
  });
}

/**
 * Bounded work per upload: the header's dimensions against the limits before anything is
 * inflated (413), then the data the file really holds against what the header declares (422) —
 * for gzip, inflated with a counter that stops at the declared size.
 */
export async function checkVolumeBounds(
  path: string,
  format: VolumeFormat,
  limits: { maxVoxels: number; maxBytes: number },
): Promise<DeclaredVolume> {
  const d = await declaredVolume(path, format);
  const shape = d.dims.join('×');
  if (d.voxels > limits.maxVoxels)
    throw new HttpError(
      413,
      'volume_too_large',
      `the header declares ${shape} = ${d.voxels} voxels; this server takes at most ${limits.maxVoxels}`,
    );
  if (d.dataBytes > limits.maxBytes) {
    const mib = (b: number) => (b / 2 ** 20).toFixed(0);
    throw new HttpError(
      413,
      'volume_too_large',
      `the header declares ${shape} voxels = ${mib(d.dataBytes)} MiB of data; this server takes at most ${mib(limits.maxBytes)} MiB`,
    );
  }
  // NIfTI-gz inflates header and data as one stream; NRRD and MetaImage compress the data alone.
  const expected = format === 'nifti-gz' ? d.dataOffset + d.dataBytes : d.dataBytes;
  if (d.gzip) {
    const start = format === 'nifti-gz' ? 0 : d.dataOffset;
    // NIfTI extensions and trailing bytes some writers leave: a little room, never a bomb's worth.
    const slack = 1 << 20;
    const { bytes, over } = await inflatedBytes(path, start, expected + slack);
    if (over)
      throw new HttpError(
        422,
        'inflates_beyond_header',
        `the compressed data inflates to more than the ${shape} voxels its header declares`,
      );
    if (bytes < expected)
      throw new HttpError(
        422,
        'truncated',
        `the data holds ${bytes} of the ${expected} bytes its header declares (${shape})`,
      );
  } else {
    const { size } = await stat(path);
    if (size < d.dataOffset + d.dataBytes)
      throw new HttpError(
        422,
        'truncated',
        `the file holds ${size} bytes; its header declares ${d.dataOffset + d.dataBytes} (${shape})`,
      );
  }
  return d;
}
