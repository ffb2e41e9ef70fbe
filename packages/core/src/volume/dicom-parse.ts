import { inflateRawSync } from 'node:zlib';
import { InputError } from '../util/errors.js';

/** The few top-level attributes the series checks need, read without ITK (which is ~0.3 s per file). */
export interface DicomHeader {
  transferSyntax: string;
  seriesUID: string;
  seriesDescription: string;
  modality: string;
  instanceNumber: number | null;
  position: number[] | null;
  orientation: number[] | null;
  pixelSpacing: number[] | null;
  rows: number;
  columns: number;
  gantryTilt: number | null;
  /** Whether the pixel data element is present and complete. */
  pixelDataBytes: number;
}

const tag = (g: number, e: number) => ((g << 16) | e) >>> 0;
const T = {
  transferSyntax: tag(0x0002, 0x0010),
  modality: tag(0x0008, 0x0060),
  seriesDescription: tag(0x0008, 0x103e),
  gantryTilt: tag(0x0018, 0x1120),
  seriesUID: tag(0x0020, 0x000e),
  instanceNumber: tag(0x0020, 0x0013),
  position: tag(0x0020, 0x0032),
  orientation: tag(0x0020, 0x0037),
  samples: tag(0x0028, 0x0002),
  frames: tag(0x0028, 0x0008),
  rows: tag(0x0028, 0x0010),
  columns: tag(0x0028, 0x0011),
  pixelSpacing: tag(0x0028, 0x0030),
  bitsAllocated: tag(0x0028, 0x0100),
  pixelData: tag(0x7fe0, 0x0010),
};
const WANTED = new Set(Object.values(T));
const LONG_VR = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;

class Truncated extends Error {}

interface Reader {
  buf: Buffer;
  pos: number;
  little: boolean;
  explicit: boolean;
}

function u16(r: Reader, at: number): number {
  if (at + 2 > r.buf.length) throw new Truncated();
  return r.little ? r.buf.readUInt16LE(at) : r.buf.readUInt16BE(at);
}
function u32(r: Reader, at: number): number {
  if (at + 4 > r.buf.length) throw new Truncated();
  return r.little ? r.buf.readUInt32LE(at) : r.buf.readUInt32BE(at);
}

interface Element {
  tag: number;
  vr: string;
  length: number;
  valueAt: number;
}

function readElement(r: Reader): Element {
  const group = u16(r, r.pos);
  const element = u16(r, r.pos + 2);
  const t = tag(group, element);
  if (group === 0xfffe) return { tag: t, vr: '', length: u32(r, r.pos + 4), valueAt: r.pos + 8 };
  if (!r.explicit) return { tag: t, vr: '', length: u32(r, r.pos + 4), valueAt: r.pos + 8 };
  if (r.pos + 6 > r.buf.length) throw new Truncated();
  const vr = r.buf.toString('latin1', r.pos + 4, r.pos + 6);
  if (LONG_VR.has(vr)) return { tag: t, vr, length: u32(r, r.pos + 8), valueAt: r.pos + 12 };
  return { tag: t, vr, length: u16(r, r.pos + 6), valueAt: r.pos + 8 };
}

/** Skips an undefined-length value (a sequence, or encapsulated pixel data) up to its delimiter. */
function skipUndefined(r: Reader, at: number): number {
  const inner: Reader = { ...r, pos: at };
  for (;;) {
    const item = readElement({ ...inner, explicit: false });
    if (item.tag === tag(0xfffe, 0xe0dd)) return item.valueAt;
    if (item.tag !== tag(0xfffe, 0xe000)) throw new Error(`unexpected tag ${item.tag.toString(16)} in a sequence`);
    if (item.length !== UNDEFINED) {
      inner.pos = item.valueAt + item.length;
      if (inner.pos > r.buf.length) throw new Truncated();
      continue;
    }
    inner.pos = item.valueAt;
    for (;;) {
      const e = readElement(inner);
      if (e.tag === tag(0xfffe, 0xe00d)) {
        inner.pos = e.valueAt;
        break;
      }
      inner.pos = e.length === UNDEFINED ? skipUndefined(inner, e.valueAt) : e.valueAt + e.length;
      if (inner.pos > r.buf.length) throw new Truncated();
    }
  }
}

function text(buf: Buffer, e: Element): string {
  return buf
    .toString('latin1', e.valueAt, e.valueAt + e.length)
    .replace(/[\0\s]+$/, '')
    .trim();
}

function numbers(s: string | undefined): number[] | null {
  if (!s) return null;
  const v = s.split('\\').map(Number);
  return v.every(Number.isFinite) ? v : null;
}

/** Parses a Part-10 DICOM file's top-level header and checks that its pixel data is complete. */
export function parseDicomHeader(source: string, buf: Buffer): DicomHeader {
  if (buf.length === 0) throw new InputError(source, 'file is empty');
  if (buf.length < 132 || buf.toString('latin1', 128, 132) !== 'DICM')
    throw new InputError(source, 'not a DICOM file: no "DICM" magic at byte 128');
  const values = new Map<number, string>();
  const ints = new Map<number, number>();
  let r: Reader = { buf, pos: 132, little: true, explicit: true };
  let pixel: Element | null = null;
  try {
    // File meta group: always explicit VR little endian.
    while (r.pos + 4 <= buf.length && u16(r, r.pos) === 0x0002) {
      const e = readElement(r);
      if (e.tag === T.transferSyntax) values.set(e.tag, text(buf, e));
      r.pos = e.valueAt + e.length;
    }
    const ts = values.get(T.transferSyntax) ?? '1.2.840.10008.1.2.1';
    if (ts === '1.2.840.10008.1.2.1.99') {
      buf = Buffer.concat([buf.subarray(0, r.pos), inflateRawSync(buf.subarray(r.pos))]);
      r = { ...r, buf };
    }
    r.explicit = ts !== '1.2.840.10008.1.2';
    r.little = ts !== '1.2.840.10008.1.2.2';
    while (r.pos < buf.length) {
      const e = readElement(r);
      if (e.tag === T.pixelData) {
        pixel = e;
        break;
      }
      if (e.length === UNDEFINED) {
        r.pos = skipUndefined(r, e.valueAt);
        continue;
      }
      if (e.valueAt + e.length > buf.length) throw new Truncated();
      if (WANTED.has(e.tag)) {
        const us = e.tag === T.rows || e.tag === T.columns || e.tag === T.bitsAllocated || e.tag === T.samples;
        if (us) ints.set(e.tag, u16(r, e.valueAt));
        else values.set(e.tag, text(buf, e));
      }
      r.pos = e.valueAt + e.length;
    }
  } catch (error) {
    if (error instanceof Truncated) throw new InputError(source, 'truncated DICOM file (ends inside the header)');
    throw new InputError(source, `corrupt DICOM header: ${(error as Error).message}`);
  }
  if (!pixel) throw new InputError(source, 'DICOM file has no pixel data (not an image)');
  const rows = ints.get(T.rows) ?? 0;
  const columns = ints.get(T.columns) ?? 0;
  const frames = Number(values.get(T.frames) ?? 1) || 1;
  const expected = rows * columns * frames * (ints.get(T.samples) ?? 1) * ((ints.get(T.bitsAllocated) ?? 16) / 8);
  let pixelDataBytes: number;
  if (pixel.length === UNDEFINED) {
    try {
      pixelDataBytes = skipUndefined(r, pixel.valueAt) - pixel.valueAt;
    } catch {
      throw new InputError(source, 'truncated DICOM pixel data (the compressed fragments end early)');
    }
  } else {
    const available = buf.length - pixel.valueAt;
    if (available < pixel.length || pixel.length < expected)
      throw new InputError(
        source,
        `truncated DICOM pixel data: ${Math.min(available, pixel.length)} bytes, ${rows}×${columns}×${frames} voxels need ${expected}`,
      );
    pixelDataBytes = pixel.length;
  }
  const tilt = values.get(T.gantryTilt);
  return {
    transferSyntax: values.get(T.transferSyntax) ?? '',
    seriesUID: values.get(T.seriesUID) ?? '',
    seriesDescription: values.get(T.seriesDescription) ?? '',
    modality: values.get(T.modality) ?? '',
    instanceNumber: values.has(T.instanceNumber) ? Number(values.get(T.instanceNumber)) : null,
    position: numbers(values.get(T.position)),
    orientation: numbers(values.get(T.orientation)),
    pixelSpacing: numbers(values.get(T.pixelSpacing)),
    rows,
    columns,
    gantryTilt: tilt === undefined || tilt === '' ? null : Number(tilt),
    pixelDataBytes,
  };
}
