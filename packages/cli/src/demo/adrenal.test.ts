import { describe, expect, it } from 'vitest';
import { demoManifest } from './adrenal.js';

describe('the embedded demo data', () => {
  it('reads as a 3-view manifest with the official AdrenalMNIST3D splits', async () => {
    const m = await demoManifest(28);
    const count = (s: string) => m.cases.filter((c) => c.split === s).length;
    expect([count('train'), count('val'), count('test')]).toEqual([1188, 98, 298]);
    expect(m.card.views.map((v) => v.axis)).toEqual(['axial', 'coronal', 'sagittal']);
    expect(m.cases[0]!.images).toHaveLength(3);
    // About 23% positives in each split (README of the data).
    const positives = m.cases.filter((c) => c.split === 'test' && c.labels[0] === 1).length;
    expect(positives).toBe(69);
  });
});
