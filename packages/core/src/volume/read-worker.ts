import { parentPort } from 'node:worker_threads';
import { InputError } from '../util/errors.js';
import { type ReadRequest, readInThread } from './read-core.js';

/**
 * The worker side of `readVolume`: ITK blocks its thread for the whole read, so reads run here
 * and the voxel buffer is transferred (or shared, when ITK made it a SharedArrayBuffer), never copied.
 */
parentPort?.on('message', async (message: { id: number; request: ReadRequest }) => {
  try {
    const result = await readInThread(message.request);
    // ITK sometimes hands back a SharedArrayBuffer: that is shared, not copied, and cannot be transferred.
    const transfer = [result.volume.data.buffer, result.volume.direction.buffer].filter(
      (b): b is ArrayBuffer => b instanceof ArrayBuffer,
    );
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
