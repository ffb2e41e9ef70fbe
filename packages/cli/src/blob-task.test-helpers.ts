import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Random } from '@anymc3d/core/util';
import { writeVolume } from '@anymc3d/core/volume';

export const BLOB_SIDE = 16;

/**
 * A generated binary task for CLI tests: `cases` noisy 16³ int16 volumes, the odd ones with a
 * bright 6³ cube at a fixed place, under `root/images`, with `root/manifest.csv` and
 * `root/task.json` (one axial view at 16², window [0, 1000]). Returns the two files' paths.
 */
export async function writeBlobTask(
  root: string,
  o: { id: string; source: string; seed: number; cases: number; split: (i: number) => string },
): Promise<{ task: string; manifest: string }> {
  const r = new Random(o.seed);
  const side = BLOB_SIDE;
  const rows = ['id,split,image,blob'];
  for (let i = 0; i < o.cases; i++) {
    const data = Int16Array.from({ length: side ** 3 }, () => Math.round(r.uniform(0, 200)));
    if (i % 2)
      for (let z = 4; z < 10; z++)
        for (let y = 5; y < 11; y++) for (let x = 3; x < 9; x++) data[(z * side + y) * side + x] = 900;
    await writeVolume(
      {
        data,
        size: [side, side, side],
        spacing: [1, 1, 1],
        origin: [0, 0, 0],
        direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      },
      join(root, 'images', `case${i}.nii.gz`),
    );
    rows.push(`case${i},${o.split(i)},images/case${i}.nii.gz,${i % 2}`);
  }
  const manifest = join(root, 'manifest.csv');
  const task = join(root, 'task.json');
  await writeFile(manifest, `${rows.join('\n')}\n`);
  await writeFile(
    task,
    JSON.stringify({
      id: o.id,
      description: 'A bright cube present or not (generated)',
      kind: 'binary',
      labels: ['blob'],
      views: [{ name: 'axial', axis: 'axial' }],
      windows: [[0, 1000]],
      inputSize: { height: 16, width: 16, slices: side },
      metric: 'auroc',
      data: { source: o.source, licence: 'CC0-1.0' },
    }),
  );
  return { task, manifest };
}
