import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

/** Where the container reads and writes: the 2026 platform's variables, else the 2025 defaults. */
export interface ChallengePaths {
  input: string;
  output: string;
  weights: string;
}

export function challengePaths(env: NodeJS.ProcessEnv, overrides: Partial<ChallengePaths> = {}): ChallengePaths {
  return {
    input: resolve(overrides.input ?? env.FORITHMUS_INPUT ?? '/input'),
    output: resolve(overrides.output ?? env.FORITHMUS_OUTPUT ?? '/output'),
    weights: resolve(overrides.weights ?? env.FORITHMUS_WEIGHTS ?? '/weights'),
  };
}

export interface InputCase {
  /** The scorer's `input_image_name`: the file name without its extension. */
  name: string;
  path: string;
}

const VOLUME = /\.(nii\.gz|nii|mha)$/i;

/**
 * Every volume under the input folder: `/input/*.nii.gz|.mha` (2026 platform, 2025 template)
 * and the Grand Challenge layout `/input/images/<slug>/<uuid>.mha`. Sorted by name so runs
 * are reproducible. Two files that would give the same case name are an error, since the
 * scorer could not tell them apart.
 */
export function findInputCases(inputDir: string): InputCase[] {
  if (!existsSync(inputDir) || !statSync(inputDir).isDirectory()) {
    throw new Error(`${inputDir}: input folder does not exist`);
  }
  const found: InputCase[] = [];
  const visit = (dir: string, depth: number) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && depth < 2 && (depth > 0 || entry.name === 'images')) visit(path, depth + 1);
      else if (entry.isFile() && VOLUME.test(entry.name))
        found.push({ name: basename(entry.name).replace(VOLUME, ''), path });
    }
  };
  visit(inputDir, 0);
  found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < found.length; i++) {
    if (found[i]!.name === found[i - 1]!.name) {
      throw new Error(`${found[i]!.path}: case name "${found[i]!.name}" also used by ${found[i - 1]!.path}`);
    }
  }
  if (found.length === 0) throw new Error(`${inputDir}: no .nii.gz, .nii or .mha volumes found`);
  return found;
}
