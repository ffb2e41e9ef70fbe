import { serveRpc } from '../util/worker-rpc.js';
import { type ReadRequest, type ReadResult, readInThread } from './read-core.js';

/**
 * The worker side of `readVolume`: ITK blocks its thread for the whole read, so reads run here
 * and the voxel buffer is transferred (or shared, when ITK made it a SharedArrayBuffer), never copied.
 */
serveRpc<ReadRequest, ReadResult>(async (request) => {
  const result = await readInThread(request);
  // ITK sometimes hands back a SharedArrayBuffer: that is shared, not copied, and cannot be transferred.
  const transfer = [result.volume.data.buffer, result.volume.direction.buffer].filter(
    (b): b is ArrayBuffer => b instanceof ArrayBuffer,
  );
  return { result, transfer };
});
