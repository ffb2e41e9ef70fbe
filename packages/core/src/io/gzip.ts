import { availableParallelism } from 'node:os';
import { constants, crc32, createDeflateRaw, type ZlibOptions } from 'node:zlib';

/**
 * One block deflated on libuv's thread pool, its output as the pieces zlib made (slices of one
 * buffer when `chunkSize` holds it all): zlib's one-call `deflateRaw` concatenates them into a
 * fresh buffer, a copy of every compressed byte (0.2 s of a CT heatmap's write here).
 */
function deflateBlock(bytes: Uint8Array, options: ZlibOptions): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const pieces: Buffer[] = [];
    const z = createDeflateRaw(options);
    z.on('data', (piece: Buffer) => pieces.push(piece));
    z.on('end', () => resolve(pieces));
    z.on('error', reject);
    z.end(bytes);
  });
}

export interface GzipOptions {
  /** zlib level, 1 (fastest) to 9. */
  level?: number;
  /** Input bytes per block; each block is deflated on its own thread. */
  blockBytes?: number;
  /** Blocks deflated at once; defaults to the cores this process may use. */
  concurrency?: number;
  /** zlib strategy (constants.Z_RLE, …); default Z_DEFAULT_STRATEGY. */
  strategy?: number;
  /**
   * Blocks for which this says true are stored (deflate level 0) instead of compressed: bytes
   * that compressing would barely shrink, where it would only cost time.
   */
  storeBlock?: (bytes: Uint8Array) => boolean;
}

/**
 * A part of the stream made on demand, a block at a time, into a scratch buffer the gzip owns and
 * reuses once that block is deflated: a converted copy of a volume (e.g. float voxels stored as
 * 16-bit codes) then needs a few blocks of memory, not a second volume.
 */
export interface GzipProducedPart {
  byteLength: number;
  /** Bytes [from, to) of the part, written into `scratch` (at least to − from bytes); returns them. */
  produce(from: number, to: number, scratch: Uint8Array): Uint8Array;
}

export type GzipPart = Uint8Array | GzipProducedPart;

/**
 * Gzips `parts` (one logical byte stream) as ONE standard gzip member, deflating blocks on all
 * cores the way pigz does: every block but the last ends with a sync flush, which byte-aligns it,
 * so the raw deflate blocks concatenate into one valid deflate stream. One member, not several
 * concatenated ones, because not every reader (browser viewers among them) reads past the first
 * member. Blocks start without the previous block's 32 KiB dictionary, which costs a few bytes
 * per MiB block. Compressed blocks are handed to `write` in order as they complete, so memory
 * holds at most `concurrency` compressed blocks beside the input.
 */
export async function gzipParts(
  parts: readonly GzipPart[],
  write: (chunk: Uint8Array) => Promise<void>,
  options: GzipOptions = {},
): Promise<void> {
  const level = options.level ?? 1;
  const blockBytes = options.blockBytes ?? 8 << 20;
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  const blocks: { part: GzipPart; from: number; to: number }[] = [];
  let length = 0;
  for (const part of parts) {
    length += part.byteLength;
    for (let at = 0; at < part.byteLength; at += blockBytes)
      blocks.push({ part, from: at, to: Math.min(part.byteLength, at + blockBytes) });
  }
  if (blocks.length === 0) blocks.push({ part: new Uint8Array(0), from: 0, to: 0 });
  // Block k is made in scratch k mod (concurrency + 1): at most `concurrency` blocks deflate at
  // once, and block k starts only after block k − concurrency is done.
  const scratch: Uint8Array[] = [];
  const bytesOf = (k: number): Uint8Array => {
    const { part, from, to } = blocks[k]!;
    if (part instanceof Uint8Array) return part.subarray(from, to);
    const slot = k % (concurrency + 1);
    scratch[slot] ??= new Uint8Array(blockBytes);
    return part.produce(from, to, scratch[slot]!);
  };
  let crc = 0;

  // 1f 8b: gzip; 08: deflate; no flags, no mtime (so equal inputs give equal files); OS unknown.
  await write(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff));
  const pending: Promise<Buffer[]>[] = [];
  // Blocks start in order, so the checksum is taken as each is made.
  const start = (k: number) => {
    const bytes = bytesOf(k);
    crc = crc32(bytes, crc);
    return deflateBlock(bytes, {
      // Output in one buffer: with zlib's 16 KiB default, each 8 MiB block came back as hundreds
      // of pieces, handled one callback each on the main thread.
      chunkSize: Math.max(64 << 10, bytes.byteLength + (bytes.byteLength >> 8) + 1024),
      level: options.storeBlock?.(bytes) ? 0 : level,
      strategy: options.strategy ?? constants.Z_DEFAULT_STRATEGY,
      finishFlush: k === blocks.length - 1 ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
    });
  };
  let next = 0;
  let writing: Promise<void> = Promise.resolve();
  try {
    while (next < Math.min(concurrency, blocks.length)) pending.push(start(next++));
    for (let k = 0; k < blocks.length; k++) {
      const deflated = await pending.shift()!;
      await writing;
      // Block k is written while the next block is made: making it (a quantised heatmap's codes)
      // is the main thread's work, writing is the thread pool's.
      writing = (async () => {
        for (const piece of deflated) await write(piece);
      })();
      // Handled here so a failed write waits for the await above or below instead of being
      // reported as unhandled meanwhile.
      writing.catch(() => undefined);
      if (next < blocks.length) pending.push(start(next++));
    }
    await writing;
  } catch (error) {
    // Let the blocks still deflating, and a write, finish, so none rejects later with nobody listening.
    await Promise.allSettled([...pending, writing]);
    throw error;
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  // ISIZE is the input length modulo 2³² (RFC 1952), so a > 4 GiB volume stays valid.
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  await write(trailer);
}
