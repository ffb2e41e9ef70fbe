import { constants, crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.js';
import { type GzipPart, gzipParts } from './gzip.js';

async function gzipped(parts: GzipPart[], options: Parameters<typeof gzipParts>[2]): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  await gzipParts(parts, async (c) => void chunks.push(c), options);
  return Buffer.concat(chunks);
}

describe('gzipParts', () => {
  // Compressible and incompressible bytes, so blocks end both inside matches and in stored runs.
  const random = new Random(5);
  const a = Uint8Array.from({ length: 70_001 }, (_, i) => (i % 97 < 60 ? i % 7 : Math.floor(random.next() * 256)));
  const b = Uint8Array.from({ length: 123_457 }, () => Math.floor(random.next() * 4));
  const whole = Buffer.concat([a, b]);

  it('many blocks deflated at once make one gzip member that zlib inflates to the input', async () => {
    const gz = await gzipped([a, b], { blockBytes: 10_000, concurrency: 3, level: 6 });
    expect(gunzipSync(gz).equals(whole)).toBe(true);
    // One deflate stream between the 10-byte header and the 8-byte trailer: not several members.
    const body = gz.subarray(10, gz.length - 8);
    expect(inflateRawSync(body, { finishFlush: constants.Z_FINISH }).equals(whole)).toBe(true);
    expect(gz.readUInt32LE(gz.length - 8)).toBe(crc32(whole));
    expect(gz.readUInt32LE(gz.length - 4)).toBe(whole.length);
  });

  it('the output does not depend on how many blocks run at once (no timestamp, fixed order)', async () => {
    const one = await gzipped([a, b], { blockBytes: 16_384, concurrency: 1 });
    const four = await gzipped([a, b], { blockBytes: 16_384, concurrency: 4 });
    expect(four.equals(one)).toBe(true);
  });

  it('a part made block by block in reused scratch buffers gives the bytes it stands for', async () => {
    // b made on demand (as a writer converting voxels does), each block into scratch the gzip reuses.
    const scratchSeen = new Set<ArrayBufferLike>();
    const made: GzipPart = {
      byteLength: b.length,
      produce(from, to, scratch) {
        scratchSeen.add(scratch.buffer);
        scratch.fill(0xee); // what a previous block left there must not leak into this one
        scratch.set(b.subarray(from, to));
        return scratch.subarray(0, to - from);
      },
    };
    for (const concurrency of [1, 3]) {
      scratchSeen.clear();
      const gz = await gzipped([a, made], { blockBytes: 10_000, concurrency, level: 6 });
      expect(gunzipSync(gz).equals(whole)).toBe(true);
      expect(gz.readUInt32LE(gz.length - 8)).toBe(crc32(whole));
      // 13 blocks of b, but only concurrency + 1 scratch buffers.
      expect(scratchSeen.size).toBe(concurrency + 1);
    }
  });

  it('blocks the caller marks are stored, the rest deflated, in one valid member', async () => {
    const compressed = await gzipped([a, b], { blockBytes: 10_000, concurrency: 2 });
    // Every block of b (bytes 0–3, easily compressed) stored: it comes out at its full size.
    const mixed = await gzipped([a, b], {
      blockBytes: 10_000,
      concurrency: 2,
      storeBlock: (bytes) => bytes.length > 0 && bytes.every((x) => x < 4),
    });
    for (const gz of [compressed, mixed]) expect(gunzipSync(gz).equals(whole)).toBe(true);
    // b's 2-bit values deflate to about a quarter; stored, they are all there.
    expect(mixed.length - compressed.length).toBeGreaterThan(b.length / 2);
    expect(mixed.length).toBeGreaterThan(b.length);
    expect(mixed.length).toBeLessThan(whole.length + 1000);
  });

  it('a failing write rejects the gzip with its error, after the blocks in flight settle', async () => {
    let writes = 0;
    const failing = gzipParts(
      [a, b],
      async () => {
        writes++;
        if (writes === 4) throw new Error('disk full');
      },
      { blockBytes: 10_000, concurrency: 2 },
    );
    await expect(failing).rejects.toThrow('disk full');
    const seen = writes;
    // Nothing is written after the failure.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(writes).toBe(seen);
  });

  it('an empty input is a valid empty gzip file', async () => {
    expect(gunzipSync(await gzipped([], {})).length).toBe(0);
  });

  it('a failing sink fails the call, after the running blocks have settled', async () => {
    let writes = 0;
    const failing = gzipParts(
      [whole],
      async () => {
        if (++writes === 3) throw new Error('disk full');
      },
      { blockBytes: 8192, concurrency: 4 },
    );
    await expect(failing).rejects.toThrow('disk full');
  });
});
