import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../util/errors.js';

/** One recipe's folder of a feature cache (`<weights>-<recipe>`): its entries and their age. */
export interface CacheFolderStats {
  name: string;
  entries: number;
  bytes: number;
  /** Write times (ms since the epoch) of the oldest and newest entry; null when empty. */
  oldest: number | null;
  newest: number | null;
  /** Temporary files a killed writer left (never read as entries). */
  leftovers: number;
}

const ENTRY = /\.safetensors$/;
const LEFTOVER = /^\..*\.tmp$/;

async function folders(root: string): Promise<string[]> {
  const names = await readdir(root, { withFileTypes: true }).catch(() => {
    throw new InputError(root, 'no feature cache here (no such folder)');
  });
  return names
    .filter((d) => d.isDirectory() && !d.name.startsWith('.')) // .digests: the image-digest index
    .map((d) => d.name)
    .sort();
}

/** What a feature cache holds, per backbone-and-recipe folder. */
export async function cacheStats(root: string): Promise<CacheFolderStats[]> {
  const out: CacheFolderStats[] = [];
  for (const name of await folders(root)) {
    const s: CacheFolderStats = { name, entries: 0, bytes: 0, oldest: null, newest: null, leftovers: 0 };
    for (const file of await readdir(join(root, name))) {
      if (LEFTOVER.test(file)) {
        s.leftovers++;
        continue;
      }
      if (!ENTRY.test(file)) continue;
      const st = await stat(join(root, name, file)).catch(() => null); // another process may prune it meanwhile
      if (!st) continue;
      s.entries++;
      s.bytes += st.size;
      s.oldest = Math.min(s.oldest ?? st.mtimeMs, st.mtimeMs);
      s.newest = Math.max(s.newest ?? st.mtimeMs, st.mtimeMs);
    }
    out.push(s);
  }
  return out;
}

export interface PruneResult {
  removed: number;
  bytes: number;
  folders: number;
}

/**
 * Removes entries written more than `olderThanDays` ago (an entry is recomputed when next needed),
 * temporary files of killed writers older than an hour (a running writer's are younger), and
 * folders left empty. Safe beside running workers: an entry is one file, renamed into place whole.
 */
export async function pruneCache(
  root: string,
  options: { olderThanDays: number; dryRun?: boolean; now?: number },
): Promise<PruneResult> {
  if (!(options.olderThanDays >= 0))
    throw new InputError('--older-than', `must be a number of days ≥ 0, got ${options.olderThanDays}`);
  const now = options.now ?? Date.now();
  const entryLimit = now - options.olderThanDays * 86_400_000;
  const leftoverLimit = now - 3_600_000;
  const result: PruneResult = { removed: 0, bytes: 0, folders: 0 };
  for (const name of await folders(root)) {
    const dir = join(root, name);
    let kept = 0;
    for (const file of await readdir(dir)) {
      const entry = ENTRY.test(file);
      const leftover = LEFTOVER.test(file);
      const st = await stat(join(dir, file)).catch(() => null);
      if (!st || !(entry || leftover)) {
        kept++;
        continue;
      }
      if (st.mtimeMs < (leftover ? leftoverLimit : entryLimit)) {
        if (!options.dryRun) await rm(join(dir, file), { force: true });
        result.removed++;
        result.bytes += st.size;
      } else kept++;
    }
    if (kept === 0) {
      if (!options.dryRun) await rm(dir, { recursive: true, force: true });
      result.folders++;
    }
  }
  return result;
}
