import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InputError } from '../util/errors.js';
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

type Reply =
  | { id: number; ok: true; result: ReadResult }
  | { id: number; ok: false; error: { source?: string; problem?: string; message?: string } };

/** One shared, unref'd worker per script: ITK's modules load once, and an idle worker keeps no process alive. */
class ReadWorker {
  private readonly worker: Worker;
  private next = 0;
  private readonly pending = new Map<number, { resolve: (r: ReadResult) => void; reject: (e: Error) => void }>();
  private busy = 0;

  constructor(url: URL) {
    this.worker = new Worker(url);
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (--this.busy === 0) this.worker.unref();
      if (reply.ok) p.resolve(reply.result);
      else if (reply.error.source !== undefined)
        p.reject(new InputError(reply.error.source, reply.error.problem ?? ''));
      else p.reject(new Error(reply.error.message));
    });
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) => this.failAll(new Error(`volume reader worker exited with code ${code}`)));
  }

  read(request: ReadRequest): Promise<ReadResult> {
    const id = this.next++;
    if (this.busy++ === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, request });
    });
  }

  private failAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    for (const [href, w] of byUrl) if (w === this) byUrl.delete(href);
  }
}

const byUrl = new Map<string, ReadWorker>();

function workerFor(url: URL): ReadWorker {
  let w = byUrl.get(url.href);
  if (!w) {
    w = new ReadWorker(url);
    byUrl.set(url.href, w);
  }
  return w;
}

/** Whether reads can run in a worker: only once compiled (under vitest the sources are .ts). */
export function workerAvailable(url: URL = DEFAULT_WORKER): boolean {
  return url.protocol === 'file:' && existsSync(fileURLToPath(url));
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
  return workerFor(url).read(request);
}
