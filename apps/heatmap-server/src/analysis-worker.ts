import { startQueueWorker } from '@anymc3d/core/distributed';
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
  return startQueueWorker<AnalysisJob, AnalysisResult>({
    url: o.url,
    queue: ANALYSIS_QUEUE,
    concurrency: o.concurrency ?? 1,
    lockSeconds: o.lockSeconds ?? 300,
    log: o.log,
    name: (job) => `analysis ${job.data.request.caseName ?? job.id}`,
    run: async (job, name) => {
      const engine = await engineFor(job.data);
      const result = await engine.analyze({
        ...job.data.request,
        onProgress: (p) => void job.updateProgress(p as unknown as object).catch(() => undefined),
        signal: new AbortController().signal,
      });
      o.log(`${name}: done`);
      return result;
    },
    release: async () => {
      for (const engine of engines.values()) await (await engine.catch(() => null))?.close();
    },
  });
}
