import { resolveBackbone } from '@anymc3d/adapters/registry';
import { type Backbone, BackboneEmbedder } from '@anymc3d/core/backbone';
import { startQueueWorker } from '@anymc3d/core/distributed';
import { readPluginCard } from '@anymc3d/core/plugin';
import { InputError } from '@anymc3d/core/util';
import { adaptedPredictions, predictCases } from '@anymc3d/core/workflows';
import { extractTokens, featureCases } from '../pipeline/extract.js';
import { CASE_QUEUE, type CaseJob, type CaseJobResult, type JobBackbone, manifestCaseOf } from './jobs.js';

export interface CaseWorkerOptions {
  url: string;
  /** Jobs at once in this process (each runs ONNX Runtime with `threads`). */
  concurrency: number;
  threads?: number;
  /**
   * Seconds a job's lock lasts without renewal (renewed every half of it while the process lives).
   * A killed worker's job returns to the queue after this; BullMQ's 30 s default is too short for
   * multi-minute CT jobs whose preprocessing holds the event loop.
   */
  lockSeconds: number;
  log: (line: string) => void;
}

/**
 * `anymc3d worker`: takes case jobs from Redis until closed. Each backbone is loaded once (and its
 * frozen session kept); a job's bad input (a missing file, a wrong shape) fails that job at once
 * with the error naming the file, a crash is retried on another attempt, and the worker goes on.
 * `close()` lets the running jobs finish (SIGTERM), then releases the sessions.
 */
export async function startCaseWorker(o: CaseWorkerOptions): Promise<{ close: () => Promise<void> }> {
  const backbones = new Map<string, Promise<{ backbone: Backbone; embedder: BackboneEmbedder }>>();
  const loaded = (b: JobBackbone) => {
    const precision = b.precision ?? 'fp32';
    const key = JSON.stringify([b.spec, b.weightsRoot ?? null, precision]);
    let entry = backbones.get(key);
    if (!entry) {
      entry = (async () => {
        const backbone = await resolveBackbone(b.spec, b.weightsRoot ? { weightsRoot: b.weightsRoot } : {});
        const embedder = new BackboneEmbedder(backbone, {
          batchSize: 32,
          precision,
          ...(o.threads ? { threads: o.threads } : {}),
        });
        return { backbone, embedder };
      })();
      backbones.set(key, entry);
      entry.catch(() => backbones.delete(key));
    }
    return entry.then((e) => {
      if (e.backbone.weightHash !== b.weightHash)
        throw new InputError(
          b.spec,
          `on this worker has weights ${e.backbone.weightHash.slice(0, 12)}…, the submitter's ${b.weightHash.slice(0, 12)}…: give every machine the same weights`,
        );
      return e;
    });
  };
  const run = async (job: CaseJob): Promise<CaseJobResult> => {
    const { backbone, embedder } = await loaded(job.backbone);
    const c = manifestCaseOf(job.case);
    const extract = () =>
      extractTokens([c], {
        input: job.input,
        backbone,
        cacheRoot: job.cacheRoot,
        embedder,
        precision: embedder.precision,
        ...(o.threads ? { threads: o.threads } : {}),
      });
    if (job.kind === 'extract') return { computed: (await extract()).computed };
    const card = await readPluginCard(job.plugin.dir);
    if (card.lora) {
      const rows = await adaptedPredictions([c], {
        dir: job.plugin.dir,
        backbone,
        input: job.input,
        ...(o.threads ? { threads: o.threads } : {}),
      });
      return { computed: job.input.views.length, row: rows[0]! };
    }
    const extracted = await extract();
    const id = { name: backbone.card.name, weightHash: backbone.weightHash };
    const rows = await predictCases(job.plugin.dir, id, featureCases([c], extracted.tokens, job.card), o.threads);
    return { computed: extracted.computed, row: rows[0]! };
  };
  return startQueueWorker<CaseJob, CaseJobResult>({
    url: o.url,
    queue: CASE_QUEUE,
    concurrency: o.concurrency,
    lockSeconds: o.lockSeconds,
    log: o.log,
    name: (job) => `${job.data.kind} ${job.data.case.id}`,
    run: async (job, name) => {
      const started = Date.now();
      const result = await run(job.data);
      o.log(`${name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return result;
    },
    release: async () => {
      for (const entry of backbones.values()) await (await entry.catch(() => null))?.embedder.release();
    },
  });
}
