import { InputError } from '@anymc3d/core/util';
import { Queue, QueueEvents } from 'bullmq';
import type { ProgressSink } from '../progress.js';
import { CASE_QUEUE, checkRedis } from './connection.js';
import { type CaseJob, type CaseJobResult, caseJobId } from './jobs.js';

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
  try {
    await events.waitUntilReady();
    const ids = jobs.map(caseJobId);
    const fresh: { id: string; job: CaseJob }[] = [];
    const seen = new Set<string>();
    // Jobs an earlier submission enqueued: their work is not this run's (`computed` counts none of it).
    const earlier = new Set<string>();
    for (const [k, id] of ids.entries()) {
      if (seen.has(id)) continue; // one case listed twice is one job
      seen.add(id);
      const existing = await queue.getJob(id);
      if (existing && (await existing.isFailed())) await existing.remove();
      else if (existing) {
        earlier.add(id);
        continue;
      }
      fresh.push({ id, job: jobs[k]! });
    }
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
    let done = 0;
    const unique = [...seen];
    const settled = new Map<string, PromiseSettledResult<CaseJobResult>>();
    await Promise.all(
      unique.map(async (id) => {
        const job = await queue.getJob(id);
        let result: PromiseSettledResult<CaseJobResult>;
        try {
          if (!job) throw new Error('the job vanished from the queue (was it removed by hand?)');
          result = { status: 'fulfilled', value: (await job.waitUntilFinished(events)) as CaseJobResult };
        } catch (error) {
          result = { status: 'rejected', reason: error };
        }
        settled.set(id, result);
        options.report?.({ stage: options.stage, done: ++done, total: unique.length, detail: 'on the workers' });
      }),
    );
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
    await events.close();
    await queue.close();
  }
}
