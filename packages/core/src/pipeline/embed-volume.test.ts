import { describe, expect, it } from 'vitest';
import { BackboneEmbedder } from '../backbone/embedder.js';
import { tinyCnnBackbone } from '../testing/tiny-cnn.js';
import type { Volume } from '../volume/types.js';
import { sliceBatches } from '../volume/views.js';
import { embedVolume, type ViewInput } from './embed-volume.js';

function sparseVolume(): Volume {
  // 8×8×6 uint8 with a blob in slices 2–3 only: the other axial planes are constant zero.
  const data = new Uint8Array(8 * 8 * 6);
  for (let k = 2; k <= 3; k++)
    for (let j = 2; j < 6; j++) for (let i = 3; i < 7; i++) data[i + 8 * (j + 8 * k)] = 255 - 20 * i;
  return {
    data,
    size: [8, 8, 6],
    spacing: [1, 1, 2],
    origin: [0, 0, 0],
    direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  };
}

describe('embedVolume', () => {
  // Batches of 4 mix constant and varying slices; of 2, slices 2–3 make a batch that goes to the
  // backbone as it is.
  it.each([4, 2])(
    'equals embedding every slice directly, while computing each constant slice once (batches of %i)',
    async (batchSize) => {
      const embedder = new BackboneEmbedder(tinyCnnBackbone({ dim: 6, patch: 4 }), { threads: 1, batchSize });
      const view: ViewInput = {
        name: 'axial',
        axis: 'axial',
        size: [16, 16],
        channels: { replicate: true, range: [0, 255] },
        mean: [0.5, 0.5, 0.5],
        std: [0.25, 0.25, 0.25],
      };
      const volume = sparseVolume();
      const got = await embedVolume(volume, view, embedder, { patchTokens: true });
      expect(got.cls.dims).toEqual([6, 6]);
      expect(got.patchTokens!.dims).toEqual([6, 16, 6]);
      expect(got.grid).toEqual([4, 4]);
      expect(got.reused).toBe(3); // four empty planes, one of them computed

      const all = sliceBatches(volume, { ...view, chunk: 100 });
      const [batch] = [...all];
      const direct = await embedder.embed({ dtype: 'float32', dims: [6, 3, 16, 16], data: batch!.data });
      const a = got.cls.data as Float32Array;
      const b = direct.cls.data as Float32Array;
      for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i]!, 6);
      const pa = got.patchTokens!.data as Float32Array;
      const pb = direct.patchTokens!.data as Float32Array;
      for (let i = 0; i < pa.length; i++) expect(pa[i]).toBeCloseTo(pb[i]!, 6);
      await embedder.release();
    },
  );
});
