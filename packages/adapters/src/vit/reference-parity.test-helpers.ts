import { expect } from 'vitest';
import type { ReferenceComparison } from '../testing/index.js';

/**
 * What every ViT family must show against its PyTorch reference (`compareWithReference`): all
 * three outputs at every size, the 4-pixel patch grid, the reference's dims, max relative error ≤ 1e-4.
 */
export function expectReferenceParity(
  results: readonly ReferenceComparison[],
  variant: string,
  sizes: readonly string[],
) {
  expect(results).toHaveLength(3 * sizes.length);
  for (const r of results) {
    const [h, w] = r.size.split('x').map(Number) as [number, number];
    expect(r.grid).toEqual([h / 4, w / 4]);
    expect(r.dims, `${variant} ${r.size} ${r.name}`).toEqual(r.expectedDims);
    expect(r.maxRelativeError, `${variant} ${r.size} ${r.name}`).toBeLessThanOrEqual(1e-4);
  }
}
