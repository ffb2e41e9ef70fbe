import { InputError } from '@anymc3d/core/util';

/** An 8-bit RGB image, rows top to bottom, pixels interleaved (RGBRGB…). */
export interface Rgb8Image {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Reads an uncompressed 24-bit BMP (BI_RGB, the format of the Coral sample images). Rows are
 * stored bottom-up (top-down when the height is negative), each padded to 4 bytes, as BGR.
 */
export function readBmp(bytes: Uint8Array, source: string): Rgb8Image {
  if (bytes.length < 54 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw new InputError(source, 'not a BMP file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bits = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  if (bits !== 24 || compression !== 0) {
    throw new InputError(
      source,
      `BMP with ${bits} bits per pixel and compression ${compression}; only 24-bit BI_RGB is read`,
    );
  }
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0) throw new InputError(source, `BMP size ${width}×${rawHeight} is invalid`);
  const stride = Math.ceil((width * 3) / 4) * 4;
  if (dataOffset + stride * height > bytes.length) {
    throw new InputError(
      source,
      `BMP is truncated: ${bytes.length} bytes, pixel data needs ${dataOffset + stride * height}`,
    );
  }
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (rawHeight > 0 ? height - 1 - y : y) * stride;
    for (let x = 0; x < width; x++) {
      const src = row + 3 * x;
      const dst = 3 * (y * width + x);
      data[dst] = bytes[src + 2]!;
      data[dst + 1] = bytes[src + 1]!;
      data[dst + 2] = bytes[src]!;
    }
  }
  return { width, height, data };
}
