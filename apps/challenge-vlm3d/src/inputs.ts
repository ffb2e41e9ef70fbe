import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

/** Where the container reads and writes: the 2026 platform's variables, else the 2025 defaults. */
export interface ChallengePaths {
  input: string;
  output: string;
  weights: string;
  /** How the weights folder was found (said in the log). */
  weightsFrom: string;
}

/**
 * Where weights are looked for when no folder is named: the 2026 platform mounts weights.zip at
 * /weights, Grand Challenge extracts a model tarball to /opt/ml/model.
 */
export const WEIGHTS_LOCATIONS = ['/weights', '/opt/ml/model'] as const;

/**
 * The folders of a run: a flag first, else the FORITHMUS_* variable, else the platform default.
 * Weights: `--weights`, `FORITHMUS_WEIGHTS`, then the first of /weights and /opt/ml/model that
 * exists (a missing one is reported when the weights are loaded, naming every place looked at).
 */
export function challengePaths(
  env: NodeJS.ProcessEnv,
  overrides: Partial<Omit<ChallengePaths, 'weightsFrom'>> = {},
  exists: (path: string) => boolean = existsSync,
): ChallengePaths {
  let weights: string;
  let weightsFrom: string;
  if (overrides.weights !== undefined) [weights, weightsFrom] = [overrides.weights, '--weights'];
  else if (env.FORITHMUS_WEIGHTS) [weights, weightsFrom] = [env.FORITHMUS_WEIGHTS, 'FORITHMUS_WEIGHTS'];
  else {
    const found = WEIGHTS_LOCATIONS.find((p) => exists(p));
    [weights, weightsFrom] = found
      ? [found, `the first of ${WEIGHTS_LOCATIONS.join(', ')} that exists`]
      : [WEIGHTS_LOCATIONS[0], `none of ${WEIGHTS_LOCATIONS.join(', ')} exists; FORITHMUS_WEIGHTS is not set`];
  }
  return {
    input: resolve(overrides.input ?? env.FORITHMUS_INPUT ?? '/input'),
    output: resolve(overrides.output ?? env.FORITHMUS_OUTPUT ?? '/output'),
    weights: resolve(weights),
    weightsFrom,
  };
}

export interface InputCase {
  /** The scorer's `input_image_name`: the file name without its extension. */
  name: string;
  path: string;
}

const VOLUME = /\.(nii\.gz|nii|mha)$/i;

function isFileBehind(link: string): boolean {
  try {
    return statSync(link).isFile();
  } catch {
    return false;
  }
}

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
      // A linked volume counts as the file it points to (CT-RATE's volumes are often linked flat into one folder).
      else if ((entry.isFile() || (entry.isSymbolicLink() && isFileBehind(path))) && VOLUME.test(entry.name))
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
