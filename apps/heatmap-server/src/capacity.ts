import { readdir, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { AppContext } from './app-context.js';
import { HttpError } from './http-util.js';

/** Bytes of every file under `dir` (the data folder: database and case files). */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(path);
    else if (entry.isFile()) total += (await stat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

// The walk costs a stat per file, so one measurement serves the uploads of the next seconds.
const measured = new Map<string, { at: number; bytes: Promise<number> }>();
const TTL_MS = 10_000;

export function dataBytes(dir: string, now = Date.now()): Promise<number> {
  const hit = measured.get(dir);
  if (hit && now - hit.at < TTL_MS) return hit.bytes;
  const bytes = folderBytes(dir);
  measured.set(dir, { at: now, bytes });
  return bytes;
}

/** Forget the cached measurement (after a purge or in tests). */
export function forgetDataBytes(dir: string): void {
  measured.delete(dir);
}

/**
 * Whether the server takes one more upload: a full queue is a moment (503, retry later), a full
 * store needs a person (507: retention or a bigger quota).
 */
export async function checkCapacity(app: AppContext, res: ServerResponse): Promise<void> {
  const { config, store } = app;
  const waiting = store.queueLength();
  if (config.maxQueue > 0 && waiting >= config.maxQueue) {
    res.setHeader('Retry-After', '60');
    throw new HttpError(503, 'queue_full', `${waiting} jobs are waiting (limit ${config.maxQueue}); retry later`);
  }
  if (config.maxCases > 0 && store.countCases() >= config.maxCases) {
    throw new HttpError(
      507,
      'case_quota',
      `the server stores ${config.maxCases} cases, its limit; ask an admin (retention or a higher --max-cases)`,
    );
  }
  if (config.maxDiskBytes > 0) {
    const used = await dataBytes(config.dataDir);
    if (used >= config.maxDiskBytes) {
      const gib = (b: number) => (b / 1024 ** 3).toFixed(2);
      throw new HttpError(
        507,
        'disk_quota',
        `the data folder holds ${gib(used)} GiB, its limit is ${gib(config.maxDiskBytes)} GiB; ask an admin`,
      );
    }
  }
}
