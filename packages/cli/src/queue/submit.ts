import { checkRedis, jobStillStanding } from '@anymc3d/core/distributed';
import { InputError, mapLimited } from '@anymc3d/core/util';
import { Queue, QueueEvents } from 'bullmq';
import type { ProgressSink } from '../progress.js';
import { CASE_QUEUE, type CaseJob, type CaseJobResult, caseJobId } from './jobs.js';

/** Redis lookups in flight at once when a submission checks which jobs already stand. */
const LOOKUPS = 500;

/**
 * Enqueues one job per case for `anymc3d worker`s and waits for all of them: ids are idempotent
 * (`caseJobId`), so a job finished by an earlier submission is not run again and one that failed
 * is retried; progress comes from the queue's events. Every job runs to its end: the failed ones
 * are reported together afterwards (one line each, naming the case and the reason), so one missing
 * file never stops the rest.
 */
export async function runCaseJobs(
  url: string,
  jobs: readonly CaseJob[],
  options: { stage: string; report?: ProgressSink } = { stage: 'jobs' },
): Promise<CaseJobResult[]> {
  const connection = await checkRedis(url);
  const queue = new Queue(CASE_QUEUE, { connection });
  const events = new QueueEvents(CASE_QUEUE, { connection });
  // Outcomes arrive as queue events (one listener for all jobs, not one per job: a run may hold 50,000).
  const settled = new Map<string, PromiseSettledResult<CaseJobResult>>();
  let wanted = new Set<string>();
  let allSettled: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    allSettled = resolve;
  });
  const settle = (id: string, result: PromiseSettledResult<CaseJobResult>) => {
    if (!wanted.has(id) || settled.has(id)) return;
    settled.set(id, result);
    options.report?.({ stage: options.stage, done: settled.size, total: wanted.size, detail: 'on the workers' });
    if (settled.size === wanted.size) allSettled();
  };
  events.on('completed', ({ jobId, returnvalue }) =>
    settle(jobId, { status: 'fulfilled', value: returnvalue as unknown as CaseJobResult }),
  );
  events.on('failed', ({ jobId, failedReason }) =>
    settle(jobId, { status: 'rejected', reason: new Error(failedReason) }),
  );
  /** A job's outcome read from Redis (finished before the events were heard, or an event missed). */
  const check = async (id: string) => {
    const job = await queue.getJob(id);
    if (!job)
      return settle(id, {
        status: 'rejected',
        reason: new Error('the job vanished from the queue (removed by hand?)'),
      });
    const state = await job.getState();
    if (state === 'completed') settle(id, { status: 'fulfilled', value: job.returnvalue });
    else if (state === 'failed') settle(id, { status: 'rejected', reason: new Error(job.failedReason) });
  };
  let sweep: NodeJS.Timeout | undefined;
  try {
    await events.waitUntilReady();
    const ids = jobs.map(caseJobId);
    // One case listed twice is one job.
    const byId = new Map(ids.map((id, k) => [id, jobs[k]!]));
    wanted = new Set(byId.keys());
    const fresh: { id: string; job: CaseJob }[] = [];
    // Jobs an earlier submission enqueued: their work is not this run's (`computed` counts none of it).
    const earlier = new Set<string>();
    // Looked up LOOKUPS at a time: one connection carries them together, so 50,000 cases take
    // about a hundred round trips, not 50,000.
    const standing = await mapLimited([...byId.keys()], LOOKUPS, (id) => jobStillStanding(queue, id));
    [...byId].forEach(([id, job], k) => {
      if (standing[k]) earlier.add(id);
      else fresh.push({ id, job });
    });
    await queue.addBulk(
      fresh.map(({ id, job }) => ({
        name: job.kind,
        data: job,
        opts: {
          jobId: id,
          // A crash (e.g. out of memory) is retried; bad input fails at once (the worker marks it unrecoverable).
          attempts: 3,
          backoff: { type: 'fixed', delay: 1000 },
          removeOnComplete: false,
          removeOnFail: false,
        },
      })),
    );
    await mapLimited([...earlier], LOOKUPS, check);
    // A safety net for events lost to a reconnect: a few unsettled jobs are looked up now and then.
    sweep = setInterval(() => {
      const open = [...wanted].filter((id) => !settled.has(id)).slice(0, 200);
      void Promise.all(open.map(check)).catch(() => undefined);
    }, 15_000);
    if (settled.size < wanted.size) await finished;
    const failures: string[] = [];
    const out = ids.map((id, k) => {
      const r = settled.get(id)!;
      if (r.status === 'fulfilled') return earlier.has(id) ? { ...r.value, computed: 0 } : r.value;
      const reason = r.reason instanceof Error ? r.reason.message : String(r.reason);
      failures.push(`case ${jobs[k]!.case.id}: ${reason}`);
      return { computed: 0 };
    });
    if (failures.length > 0)
      throw new InputError(url, `${failures.length} of ${jobs.length} job(s) failed:\n  ${failures.join('\n  ')}`);
    return out;
  } finally {
    clearInterval(sweep);
    await events.close();
    await queue.close();
  }
}
