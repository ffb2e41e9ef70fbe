import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertSameArray } from '../testing/arrays.js';
import { InputError } from '../util/errors.js';
import { FIXTURES } from './fixtures.test-helpers.js';
import { readVolume } from './read.js';
import { writeVolume } from './write.js';

// The compiled worker: vitest runs the TypeScript sources, where read-worker.js does not exist,
// so this test exercises the real worker from dist (the test script builds first).
const BUILT_WORKER = new URL('../../dist/volume/read-worker.js', import.meta.url);

describe('readVolume in a worker_thread', () => {
  it('returns the same volume as an in-thread read, with the voxel buffer transferred', async () => {
    if (!existsSync(fileURLToPath(BUILT_WORKER)))
      throw new Error('dist/volume/read-worker.js is missing: run `npx turbo run build` before the tests');
    const path = join(FIXTURES, 'oblique_int16.nii.gz');
    const inThread = (await readVolume(path, { in: 'thread' })).volume;
    const [a, b] = await Promise.all([
      readVolume(path, { in: 'worker', workerUrl: BUILT_WORKER }),
      readVolume(join(FIXTURES, 'dicom_series'), { in: 'worker', workerUrl: BUILT_WORKER }),
    ]);
    expect(a.volume.data).toBeInstanceOf(Int16Array);
    assertSameArray(a.volume.data, inThread.data);
    // The voxels may be a view past the NIfTI header on the inflated file, never a much larger buffer.
    expect(a.volume.data.buffer.byteLength).toBeLessThanOrEqual(a.volume.data.byteLength + 70_000);
    expect(a.volume.direction).toEqual(inThread.direction);
    expect(a.volume.origin).toEqual(inThread.origin);
    expect(b.dicom?.slices).toBe(6);
    // A view at an offset writes correctly (itk-wasm reads `.buffer` whole, so the writer copies).
    const out = join(await mkdtemp(join(tmpdir(), 'anymc3d-worker-')), 'copy.nii.gz');
    await writeVolume(a.volume, out);
    assertSameArray((await readVolume(out, { in: 'thread' })).volume.data, inThread.data);
    const error = await readVolume(join(FIXTURES, 'truncated.nii.gz'), { in: 'worker', workerUrl: BUILT_WORKER }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problem).toMatch(/truncated gzip/);
  });
});
