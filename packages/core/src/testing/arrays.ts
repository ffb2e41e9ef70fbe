/**
 * Exact equality of two typed arrays, fast: vitest's deep `toEqual` walks and formats every element
 * and took minutes on a 2.8M-voxel volume under load. Throws naming the first differing index.
 */
export function assertSameArray(
  actual: ArrayBufferView & ArrayLike<unknown>,
  expected: ArrayBufferView & ArrayLike<unknown>,
  label = 'array',
): void {
  if (actual.constructor !== expected.constructor) {
    throw new Error(`${label}: ${actual.constructor.name} differs from ${expected.constructor.name}`);
  }
  if (actual.length !== expected.length)
    throw new Error(`${label}: length ${actual.length} differs from ${expected.length}`);
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return;
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i]))
      throw new Error(`${label}: element ${i} is ${String(actual[i])}, expected ${String(expected[i])}`);
  }
}
