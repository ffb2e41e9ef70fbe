import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { detectVolumeFormat } from './volume-format.js';

const REAL_DICOM = fileURLToPath(new URL('../../../../shared/data/dicom/transfer-syntaxes/5.dcm', import.meta.url));
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));

function niftiHeader(littleEndian: boolean, magic: string): Uint8Array {
  const bytes = new Uint8Array(352);
  new DataView(bytes.buffer).setInt32(0, 348, littleEndian);
  bytes.set(Buffer.from(magic, 'latin1'), 344);
  return bytes;
}

function dicomFile(): Buffer {
  const bytes = Buffer.alloc(256);
  bytes.write('DICM', 128, 'latin1');
  return bytes;
}

function zipEntry(name: string, content: Buffer, method: 0 | 8, dataDescriptor = false): Buffer {
  const data = method === 8 ? deflateRawSync(content) : content;
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt16LE(dataDescriptor ? 8 : 0, 6);
  header.writeUInt16LE(method, 8);
  header.writeUInt32LE(dataDescriptor ? 0 : data.length, 18);
  header.writeUInt32LE(dataDescriptor ? 0 : content.length, 22);
  header.writeUInt16LE(name.length, 26);
  return Buffer.concat([header, Buffer.from(name), data]);
}

describe('detectVolumeFormat (by content)', () => {
  it('NIfTI-1 in either byte order, single file and pair magic', () => {
    expect(detectVolumeFormat(niftiHeader(true, 'n+1\0'))).toBe('nifti');
    expect(detectVolumeFormat(niftiHeader(false, 'n+1\0'))).toBe('nifti');
    expect(detectVolumeFormat(niftiHeader(true, 'ni1\0'))).toBe('nifti');
    expect(detectVolumeFormat(fixture('be_float32.nii'))).toBe('nifti');
  });

  it('gzip: only when the inflated start is a NIfTI header, even from a truncated prefix', () => {
    const gz = fixture('le_int16_scaled.nii.gz');
    expect(detectVolumeFormat(gz)).toBe('nifti-gz');
    const big = gzipSync(Buffer.concat([niftiHeader(true, 'n+1\0'), Buffer.alloc(1 << 20, 7)]));
    expect(detectVolumeFormat(big.subarray(0, 200))).toBe('nifti-gz');
    // A very compressible volume: its first 64 KiB inflate to far more than any sniff should hold.
    const flat = gzipSync(Buffer.concat([niftiHeader(true, 'n+1\0'), Buffer.alloc(32 << 20)]));
    expect(detectVolumeFormat(flat.subarray(0, 64 * 1024))).toBe('nifti-gz');
    expect(detectVolumeFormat(gzipSync(Buffer.from('hello world, not a volume')))).toBeNull();
  });

  it('NRRD and MetaImage headers', () => {
    expect(detectVolumeFormat(Buffer.from('NRRD0004\n# Complete NRRD file format specification\ntype: short\n'))).toBe(
      'nrrd',
    );
    expect(detectVolumeFormat(Buffer.from('ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\n'))).toBe('mha');
    expect(detectVolumeFormat(Buffer.from('NDims = 3\r\nObjectType = Image\r\nElementType = MET_SHORT\r\n'))).toBe(
      'mha',
    );
    expect(detectVolumeFormat(Buffer.from('ObjectType = Mesh\nNDims = 3\n'))).toBeNull();
  });

  it('a zip whose first file is DICOM (stored, deflated, after a folder entry and a short note)', () => {
    expect(detectVolumeFormat(zipEntry('IM0001', dicomFile(), 0))).toBe('dicom-zip');
    expect(detectVolumeFormat(zipEntry('IM0001.dcm', dicomFile(), 8))).toBe('dicom-zip');
    expect(detectVolumeFormat(zipEntry('IM0001.dcm', dicomFile(), 8, true))).toBe('dicom-zip');
    const nested = Buffer.concat([
      zipEntry('series/', Buffer.alloc(0), 0),
      zipEntry('series/README', Buffer.from('CT'), 0),
      zipEntry('series/IM0001', dicomFile(), 8),
    ]);
    expect(detectVolumeFormat(nested)).toBe('dicom-zip');
    // A large, very compressible file: its first 64 KiB inflate to megabytes.
    const big = zipEntry('IM0002.dcm', Buffer.concat([dicomFile(), Buffer.alloc(8 << 20)]), 8);
    expect(detectVolumeFormat(big.subarray(0, 64 * 1024))).toBe('dicom-zip');
  });

  it.skipIf(!existsSync(REAL_DICOM))('a zip of a real DICOM file from shared/data', () => {
    const zip = Buffer.concat([
      zipEntry('series/5.dcm', readFileSync(REAL_DICOM), 8),
      zipEntry('series/6.dcm', readFileSync(REAL_DICOM), 8),
    ]);
    expect(detectVolumeFormat(zip.subarray(0, 64 * 1024))).toBe('dicom-zip');
  });

  it('refuses a zip of something else, PNG, PDF, text and short input', () => {
    expect(detectVolumeFormat(zipEntry('report.pdf', Buffer.alloc(400, 0x25), 8))).toBeNull();
    expect(detectVolumeFormat(Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'))).toBeNull();
    expect(detectVolumeFormat(Buffer.from('%PDF-1.7\n'))).toBeNull();
    expect(detectVolumeFormat(Buffer.from('n+1'))).toBeNull();
    expect(detectVolumeFormat(new Uint8Array(0))).toBeNull();
    const wrongSize = niftiHeader(true, 'n+1\0');
    new DataView(wrongSize.buffer).setInt32(0, 540, true);
    expect(detectVolumeFormat(wrongSize)).toBeNull();
  });
});
