import { parentPort } from 'node:worker_threads';
import { InputError } from '../util/errors.js';
import { type ReadRequest, readInThread } from './read-core.js';

/**
 * The worker side of `readVolume`: ITK blocks its thread for the whole read, so reads run here
 * and the voxel buffer is transferred (not copied) back to the caller.
 */
parentPort?.on('message', async (message: { id: number; request: ReadRequest }) => {
  try {
    const result = await readInThread(message.request);
    const transfer = [result.volume.data.buffer as ArrayBuffer, result.volume.direction.buffer as ArrayBuffer];
    parentPort?.postMessage({ id: message.id, ok: true, result }, transfer);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    parentPort?.postMessage({
      id: message.id,
      ok: false,
      error: error instanceof InputError ? { source: error.source, problem: error.problem } : { message: e.message },
    });
  }
});
