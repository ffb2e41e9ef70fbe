import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@anymc3d/core/util';
import { PREDICTIONS_FILE, RESULTS_FILE, type ResultsDocument, wrapForPlatform } from './results.js';

/** Deletes both submission files, so a failed run never leaves one that looks complete. */
export async function clearSubmission(output: string): Promise<void> {
  await rm(join(output, PREDICTIONS_FILE), { force: true });
  await rm(join(output, RESULTS_FILE), { force: true });
}

/**
 * Writes `predictions.json` (what the evaluator reads) and `results.json` (the flat schema), each
 * through a temporary file and a rename. If the second write fails the first is removed again:
 * the folder holds both or neither.
 */
export async function writeSubmission(output: string, doc: ResultsDocument): Promise<string[]> {
  const paths = [join(output, PREDICTIONS_FILE), join(output, RESULTS_FILE)];
  try {
    await writeFileAtomic(paths[0]!, `${JSON.stringify(wrapForPlatform(doc))}\n`);
    await writeFileAtomic(paths[1]!, `${JSON.stringify(doc, null, 2)}\n`);
  } catch (error) {
    await clearSubmission(output);
    throw error;
  }
  return paths;
}
