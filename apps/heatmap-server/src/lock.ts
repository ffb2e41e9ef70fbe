import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '@anymc3d/core/util';

/** The lock file in a data folder: the holding server's pid. */
export const LOCK_FILE = 'server.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the data folder for this process, atomically (O_EXCL). A lock left by a process that no
 * longer runs (a crash, a power cut) is taken over; one held by a live process refuses the start.
 */
export async function acquireLock(dataDir: string): Promise<{ release(): Promise<void> }> {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new InputError(
          dataDir,
          `another anymc3d-server (pid ${pid}) is using this data folder; stop it first (${LOCK_FILE})`,
        );
      }
      await rm(path, { force: true });
    }
  }
  throw new InputError(dataDir, `cannot take ${LOCK_FILE}`);
}
