import { describe, expect, it } from 'vitest';
import { imageFileOf, npzRef, parseNpzRef } from './image-ref.js';

describe('image references', () => {
  it('round-trips an .npz volume reference and leaves other paths alone', () => {
    const ref = npzRef('/data/organ mnist/organmnist3d_64.npz', 'test', 12);
    expect(ref).toBe('/data/organ mnist/organmnist3d_64.npz#test/12');
    expect(parseNpzRef(ref)).toEqual({ file: '/data/organ mnist/organmnist3d_64.npz', split: 'test', index: 12 });
    expect(imageFileOf(ref)).toBe('/data/organ mnist/organmnist3d_64.npz');
    for (const path of [
      '/data/ct#1.nii.gz',
      '/data/a.npz',
      '/data/a.npz#test',
      '/data/a.npz#test/-1',
      '/data/a.npz#test/1.5',
    ]) {
      expect(parseNpzRef(path), path).toBeNull();
      expect(imageFileOf(path)).toBe(path);
    }
  });
});
