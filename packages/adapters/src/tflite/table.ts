import { ByteBuffer } from 'flatbuffers';

/**
 * A bounds-checked view of one flatbuffer table. TFLite files are read by field index (the order
 * of fields in `tensorflow/lite/schema/schema.fbs`), so a handful of accessors replaces the
 * generated code; every offset is checked, so a damaged file fails with a message, not garbage.
 */
export class FlatTable {
  constructor(
    readonly bb: ByteBuffer,
    readonly pos: number,
  ) {
    check(bb, pos, 4);
  }

  static root(bytes: Uint8Array): FlatTable {
    const bb = new ByteBuffer(bytes);
    check(bb, 0, 4);
    return new FlatTable(bb, bb.readUint32(0));
  }

  /** Absolute position of field `index`, or 0 when the field is absent. */
  private field(index: number): number {
    const vtable = this.pos - this.bb.readInt32(this.pos);
    check(this.bb, vtable, 4);
    const vtableSize = this.bb.readUint16(vtable);
    const slot = 4 + 2 * index;
    if (slot >= vtableSize) return 0;
    const rel = this.bb.readUint16(vtable + slot);
    return rel ? this.pos + rel : 0;
  }

  /** Position of a scalar field of `size` bytes (checked), or 0 when absent. */
  private scalarAt(index: number, size: number): number {
    const at = this.field(index);
    if (at) check(this.bb, at, size);
    return at;
  }

  has(index: number): boolean {
    return this.field(index) !== 0;
  }

  int8(index: number, fallback = 0): number {
    const at = this.scalarAt(index, 1);
    return at ? this.bb.readInt8(at) : fallback;
  }

  uint8(index: number, fallback = 0): number {
    const at = this.scalarAt(index, 1);
    return at ? this.bb.readUint8(at) : fallback;
  }

  int32(index: number, fallback = 0): number {
    const at = this.scalarAt(index, 4);
    return at ? this.bb.readInt32(at) : fallback;
  }

  uint32(index: number, fallback = 0): number {
    const at = this.scalarAt(index, 4);
    return at ? this.bb.readUint32(at) : fallback;
  }

  float32(index: number, fallback = 0): number {
    const at = this.scalarAt(index, 4);
    return at ? this.bb.readFloat32(at) : fallback;
  }

  string(index: number): string | undefined {
    const at = this.field(index);
    if (!at) return undefined;
    const { start, length } = this.vectorAt(at, 1);
    return new TextDecoder().decode(this.bb.bytes().subarray(start, start + length));
  }

  table(index: number): FlatTable | undefined {
    const at = this.field(index);
    if (!at) return undefined;
    check(this.bb, at, 4);
    return new FlatTable(this.bb, at + this.bb.readUint32(at));
  }

  tables(index: number): FlatTable[] {
    const at = this.field(index);
    if (!at) return [];
    const { start, length } = this.vectorAt(at, 4);
    return Array.from({ length }, (_, k) => {
      const p = start + 4 * k;
      return new FlatTable(this.bb, p + this.bb.readUint32(p));
    });
  }

  int32s(index: number): number[] {
    const at = this.field(index);
    if (!at) return [];
    const { start, length } = this.vectorAt(at, 4);
    return Array.from({ length }, (_, k) => this.bb.readInt32(start + 4 * k));
  }

  float32s(index: number): number[] {
    const at = this.field(index);
    if (!at) return [];
    const { start, length } = this.vectorAt(at, 4);
    return Array.from({ length }, (_, k) => this.bb.readFloat32(start + 4 * k));
  }

  int64s(index: number): number[] {
    const at = this.field(index);
    if (!at) return [];
    const { start, length } = this.vectorAt(at, 8);
    return Array.from({ length }, (_, k) => Number(this.bb.readInt64(start + 8 * k)));
  }

  /** A [ubyte] vector as a view into the file (no copy). */
  bytes(index: number): Uint8Array | undefined {
    const at = this.field(index);
    if (!at) return undefined;
    const { start, length } = this.vectorAt(at, 1);
    return this.bb.bytes().subarray(start, start + length);
  }

  private vectorAt(at: number, elementSize: number): { start: number; length: number } {
    check(this.bb, at, 4);
    const vec = at + this.bb.readUint32(at);
    check(this.bb, vec, 4);
    const length = this.bb.readUint32(vec);
    check(this.bb, vec + 4, length * elementSize);
    return { start: vec + 4, length };
  }
}

export class FlatBufferError extends Error {}

function check(bb: ByteBuffer, at: number, size: number): void {
  if (at < 0 || at + size > bb.capacity() || !Number.isFinite(at)) {
    throw new FlatBufferError(`offset ${at}+${size} lies outside the ${bb.capacity()}-byte buffer`);
  }
}
