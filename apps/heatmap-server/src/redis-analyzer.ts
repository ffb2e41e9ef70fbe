import { resolveBackbone } from '@anymc3d/adapters/registry';
import type { Backbone } from '@anymc3d/core/backbone';
import { checkRedis, jobStillStanding } from '@anymc3d/core/distributed';
import { hashOf } from '@anymc3d/core/features';
import { Queue, QueueEvents } from 'bullmq';
import type { AnalysisProgress, AnalysisRequest, AnalysisResult, CaseAnalyzer, PluginInfo } from './analyzer.js';
import { EngineAnalyzer } from './engine-analyzer.js';

/** The BullMQ queue of case analyses (one per uploaded case), which `anymc3d-server worker`s take. */
export const ANALYSIS_QUEUE = 'anymc3d-analyses';

/** What a worker needs to analyse one case exactly as this server would. */
export interface AnalysisJob {
  /** The backbone as given to the server, and its weights (a worker with other weights refuses). */
  backbone: { spec: string; weightHash: string };
  /** The server's plugin folders in load order (their ids follow from it). */
  plugins: string[];
  request: Omit<AnalysisRequest, 'onProgress' | 'signal'>;
}

/**
 * The server's analyzer with `--redis`: each case becomes a BullMQ job that an `anymc3d-server
 * worker` on any machine runs with the same engine (`EngineAnalyzer`), writing into the case's
 * folder under the data folder, which is shared storage. The server lists plugins from their
 * cards (no sessions here), relays progress from the job, and records the result as a local
 * analysis would. A job id names the case's folder and plugins, so a server restarted mid-analysis
 * finds the result instead of asking again.
 */
export class RedisAnalyzer implements CaseAnalyzer {
  private readonly infos: PluginInfo[] = [];
  private readonly dirs: string[] = [];

  private constructor(
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly backbone: Backbone,
    private readonly backboneSpec: string,
  ) {}

  static async create(options: { url: string; backbone: string; plugins: string[] }): Promise<RedisAnalyzer> {
    const connection = await checkRedis(options.url);
    const backbone = await resolveBackbone(options.backbone);
    const queue = new Queue(ANALYSIS_QUEUE, { connection });
    const events = new QueueEvents(ANALYSIS_QUEUE, { connection });
    await events.waitUntilReady();
    const analyzer = new RedisAnalyzer(queue, events, backbone, options.backbone);
    for (const dir of options.plugins) await analyzer.loadPlugin(dir);
    return analyzer;
  }

  get plugins(): readonly PluginInfo[] {
    return this.infos;
  }

  async loadPlugin(dir: string): Promise<PluginInfo> {
    const { info } = await EngineAnalyzer.describePlugin(dir, this.backbone, new Set(this.infos.map((p) => p.id)));
    this.infos.push(info);
    this.dirs.push(dir);
    return info;
  }

  async analyze(request: AnalysisRequest): Promise<AnalysisResult> {
    const { onProgress, signal, ...rest } = request;
    const data: AnalysisJob = {
      backbone: { spec: this.backboneSpec, weightHash: this.backbone.weightHash },
      plugins: [...this.dirs],
      request: rest,
    };
    const jobId = `analysis-${hashOf({ outDir: rest.outDir, plugins: rest.pluginIds, volume: rest.volumePath }).slice(0, 40)}`;
    const onJobProgress = ({ jobId: id, data: p }: { jobId: string; data: unknown }) => {
      if (id === jobId) onProgress(p as AnalysisProgress);
    };
    this.events.on('progress', onJobProgress);
    try {
      const job =
        (await jobStillStanding(this.queue, jobId)) ??
        (await this.queue.add('analyze', data, {
          jobId,
          // The server counts attempts itself (maxAttempts): one BullMQ attempt per server attempt.
          attempts: 1,
          removeOnComplete: { age: 86_400 },
          removeOnFail: { age: 86_400 },
        }));
      const finished = job.waitUntilFinished(this.events) as Promise<AnalysisResult>;
      const aborted = new Promise<never>((_, reject) => {
        if (signal.aborted) reject(new Error('analysis aborted'));
        signal.addEventListener('abort', () => reject(new Error('analysis aborted')), { once: true });
      });
      return await Promise.race([finished, aborted]);
    } finally {
      this.events.off('progress', onJobProgress);
    }
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
  }
}
