import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * How many ONNX Runtime sessions `run` built and released: with ANYMC3D_ORT_PROFILE set, each
 * writes one profile file when released. The variable is restored afterwards.
 */
export async function sessionsBuilt(run: () => Promise<void>): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'anymc3d-sessions-'));
  const before = process.env.ANYMC3D_ORT_PROFILE;
  process.env.ANYMC3D_ORT_PROFILE = dir;
  try {
    await run();
  } finally {
    if (before === undefined) delete process.env.ANYMC3D_ORT_PROFILE;
    else process.env.ANYMC3D_ORT_PROFILE = before;
  }
  const count = (await readdir(dir)).filter((f) => f.startsWith('session-')).length;
  await rm(dir, { recursive: true, force: true });
  return count;
}
