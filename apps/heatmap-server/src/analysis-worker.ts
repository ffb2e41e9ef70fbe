import { checkRedis } from '@anymc3d/core/distributed';
import { isInputError } from '@anymc3d/core/util';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { AnalysisResult } from './analyzer.js';
import { EngineAnalyzer } from './engine-analyzer.js';
import { ANALYSIS_QUEUE, type AnalysisJob } from './redis-analyzer.js';

export interface AnalysisWorkerOptions {
  url: string;
  threads?: number;
  concurrency?: number;
  /** Seconds a job's lock lasts without renewal: a dead worker's analysis goes back to the queue after this. */
  lockSeconds?: number;
  log: (line: string) => void;
}

/**
 * `anymc3d-server worker`: runs the analyses a `--redis` server enqueues, with the server's own
 * engine, one `EngineAnalyzer` per (backbone, plugin list) kept across jobs so the backbone and each
 * plugin load once. Bad input fails the job at once (the server shows it on the case); `close()`
 * lets the running analysis finish.
 */
export async function startAnalysisWorker(o: AnalysisWorkerOptions): Promise<{ close: () => Promise<void> }> {
  const connection = await checkRedis(o.url);
  const engines = new Map<string, Promise<EngineAnalyzer>>();
  const engineFor = (job: AnalysisJob) => {
    const key = JSON.stringify([job.backbone.spec, job.plugins]);
    let engine = engines.get(key);
    if (!engine) {
      engine = EngineAnalyzer.create({
        backbone: job.backbone.spec,
        plugins: job.plugins,
        ...(o.threads ? { threads: o.threads } : {}),
      });
      engines.set(key, engine);
      engine.catch(() => engines.delete(key));
    }
    return engine;
  };
  const lockDuration = (o.lockSeconds ?? 300) * 1000;
  const worker = new Worker<AnalysisJob, AnalysisResult>(
    ANALYSIS_QUEUE,
    async (job: Job<AnalysisJob, AnalysisResult>) => {
      const name = job.data.request.caseName ?? job.id;
      o.log(`analysis ${name}: started`);
      try {
        const engine = await engineFor(job.data);
        const result = await engine.analyze({
          ...job.data.request,
          onProgress: (p) => void job.updateProgress(p as unknown as object).catch(() => undefined),
          signal: new AbortController().signal,
        });
        o.log(`analysis ${name}: done`);
        return result;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        o.log(`analysis ${name}: failed: ${message}`);
        if (isInputError(error)) throw new UnrecoverableError(message);
        throw error;
      }
    },
    {
      connection,
      concurrency: o.concurrency ?? 1,
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
      for (const engine of engines.values()) await (await engine.catch(() => null))?.close();
    },
  };
}
