import { RpcWorker, workerAvailable as rpcWorkerAvailable } from '../util/worker-rpc.js';
import { type ReadRequest, type ReadResult, readInThread } from './read-core.js';

export interface ReadOptions {
  /** For a 4D file: which volume to take (0-based); without it a 4D file is an error. */
  volume?: number;
  /** DICOM series off a regular grid: resample onto one ('regular', default) or keep as stored. */
  dicomGrid?: 'regular' | 'stored';
  /**
   * Where reading runs. 'worker' (the default when the compiled worker exists) keeps the event
   * loop free; 'thread' reads in the calling thread (used when running from TypeScript sources).
   */
  in?: 'worker' | 'thread';
  /** The worker script; defaults to read-worker.js beside this module. */
  workerUrl?: URL;
}

const DEFAULT_WORKER = new URL('./read-worker.js', import.meta.url);

/** One shared, unref'd worker per script: ITK's modules load once, and an idle worker keeps no process alive. */
const byUrl = new Map<string, RpcWorker<ReadRequest, ReadResult>>();

function workerFor(url: URL): RpcWorker<ReadRequest, ReadResult> {
  let w = byUrl.get(url.href);
  if (!w?.alive) {
    w = new RpcWorker(url, 'volume reader');
    byUrl.set(url.href, w);
  }
  return w;
}

/** Whether reads can run in a worker: only once compiled (under vitest the sources are .ts). */
export function workerAvailable(url: URL = DEFAULT_WORKER): boolean {
  return rpcWorkerAvailable(url);
}

/**
 * Reads a NIfTI (.nii, .nii.gz), NRRD, MetaImage (.mha/.mhd), single DICOM file or DICOM series
 * folder into a `Volume` in ITK's LPS frame, keeping the file's voxel type. Bad input is an
 * `InputError` naming the file and the problem.
 */
export async function readVolume(path: string, options: ReadOptions = {}): Promise<ReadResult> {
  const request: ReadRequest = { path };
  if (options.volume !== undefined) request.volume = options.volume;
  if (options.dicomGrid !== undefined) request.dicomGrid = options.dicomGrid;
  const url = options.workerUrl ?? DEFAULT_WORKER;
  const mode = options.in ?? (workerAvailable(url) ? 'worker' : 'thread');
  if (mode === 'thread') return readInThread(request);
  if (!workerAvailable(url)) throw new Error(`volume reader worker not found at ${url.href} (build the package first)`);
  return workerFor(url).call(request);
}
