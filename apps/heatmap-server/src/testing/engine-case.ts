import { mkdir } from 'node:fs/promises';
import { writeVolume } from '@anymc3d/core/volume';
import type { AnalysisResult, CaseAnalyzer } from '../analyzer.js';

/**
 * The small case the engine tests analyse: 20×18×6 uint8 voxels (value (i·step) mod 256), unequal
 * sides and spacings so a view on the wrong axis could not pass, at a non-zero origin.
 */
export async function writeEngineCase(path: string, step = 13): Promise<void> {
  await writeVolume(
    {
      data: Uint8Array.from({ length: 20 * 18 * 6 }, (_, i) => (i * step) % 256),
      size: [20, 18, 6],
      spacing: [0.8, 0.9, 2.5],
      origin: [10, -5, 3],
      direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    },
    path,
  );
}

/** One analysis of `volumePath` by `pluginIds` into `outDir` (made if missing), progress ignored. */
export async function analyzeVolume(
  analyzer: CaseAnalyzer,
  volumePath: string,
  pluginIds: string[],
  outDir: string,
): Promise<AnalysisResult> {
  await mkdir(outDir, { recursive: true });
  return analyzer.analyze({
    volumePath,
    format: 'nifti',
    pluginIds,
    outDir,
    onProgress: () => {},
    signal: new AbortController().signal,
  });
}
