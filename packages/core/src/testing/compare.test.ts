import { describe, expect, it } from 'vitest';
import { cosine, maxRelativeError, relativeL2Error } from './compare.js';

describe('comparison helpers', () => {
  it('maxRelativeError scales the largest difference by the reference magnitude', () => {
    expect(maxRelativeError([1, 2, 4.5], [1, 2, 4])).toBeCloseTo(0.125, 12);
    expect(maxRelativeError([0.5, 0], [0, 0])).toBe(0.5);
    expect(() => maxRelativeError([1], [1, 2])).toThrow(/length/);
  });

  it('relativeL2Error is the norm of the difference over the norm of the reference', () => {
    expect(relativeL2Error([3, 4], [0, 0.001])).toBeCloseTo(Math.sqrt(9 + 3.999 ** 2) / 0.001, 6);
    expect(relativeL2Error([1, 2, 2], [1, 2, 2])).toBe(0);
    expect(relativeL2Error([1, 1], [0, 1])).toBe(1);
  });

  it('cosine is 1 for parallel, 0 for orthogonal and -1 for opposite vectors', () => {
    expect(cosine([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(cosine([1, 0], [0, 3])).toBe(0);
    expect(cosine([1, -1], [-2, 2])).toBeCloseTo(-1, 12);
  });
});
