import { type Job, type Queue, UnrecoverableError, Worker } from 'bullmq';
import { isInputError } from '../util/errors.js';
import { checkRedis } from './connection.js';

/**
 * A job already in the queue under `id` that still counts: finished, running or waiting. One that
 * failed is removed (so adding the id again runs it anew) and not returned.
 */
export async function jobStillStanding(queue: Queue, id: string): Promise<Job | undefined> {
  const job = await queue.getJob(id);
  if (!job) return undefined;
  if (await job.isFailed()) {
    await job.remove();
    return undefined;
  }
  return job;
}

export interface QueueWorkerOptions<D, R> {
  url: string;
  queue: string;
  concurrency: number;
  /**
   * Seconds a job's lock lasts without renewal (renewed every half of it while the process lives);
   * a dead worker's job goes back to the queue after this. BullMQ's 30 s is too short for CT jobs
   * whose preprocessing holds the event loop for longer.
   */
  lockSeconds: number;
  log: (line: string) => void;
  /** How a job is named in the log (`predict case07`, `analysis case`). */
  name: (job: Job<D, R>) => string;
  /** Runs one job; the line saying what finished (and how long it took) is the caller's. */
  run: (job: Job<D, R>, name: string) => Promise<R>;
  /** After the worker has closed and its running jobs finished: the sessions and memory it held. */
  release?: () => Promise<void>;
}

/**
 * The one way this project runs BullMQ jobs (`anymc3d worker`, `anymc3d-server worker`): Redis
 * checked first, the lock policy above, a line when a job starts and when it fails, and bad input
 * (an InputError: a missing file, a wrong shape) failed at once — it fails the same way on every
 * attempt and every machine — while a crash is left to the job's attempts. `close()` lets the
 * running jobs finish (SIGTERM), then releases.
 */
export async function startQueueWorker<D, R>(o: QueueWorkerOptions<D, R>): Promise<{ close: () => Promise<void> }> {
  const connection = await checkRedis(o.url);
  const lockDuration = o.lockSeconds * 1000;
  const worker = new Worker<D, R>(
    o.queue,
    async (job: Job<D, R>) => {
      const name = o.name(job);
      o.log(`${name}: started (job ${job.id}, attempt ${job.attemptsMade + 1})`);
      try {
        return await o.run(job, name);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        o.log(`${name}: failed: ${message}`);
        if (isInputError(error)) throw new UnrecoverableError(message);
        throw error;
      }
    },
    {
      connection,
      concurrency: o.concurrency,
      lockDuration,
      stalledInterval: Math.min(30_000, lockDuration),
      maxStalledCount: 2,
    },
  );
  worker.on('error', (error) => o.log(`worker: ${error.message}`));
  await worker.waitUntilReady();
  return {
    close: async () => {
      await worker.close();
      await o.release?.();
    },
  };
}
