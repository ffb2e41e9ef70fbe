import { mkdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { isInputError } from '@anymc3d/core/util';
import type { AnalysisResult, CaseAnalyzer } from './analyzer.js';
import type { Metrics } from './metrics.js';
import { AnalysisProcessEnded } from './process-analyzer.js';
import type { PredictionRow, Store } from './store.js';

export interface QueueOptions {
  store: Store;
  analyzer: CaseAnalyzer;
  casesDir: string;
  concurrency: number;
  /** Starts of one job before a restart fails it instead of queuing it again. */
  maxAttempts: number;
  metrics: Metrics;
  log: (message: string) => void;
}

/**
 * A bounded background queue of inference jobs: at most `concurrency` run at once, the rest
 * wait in arrival order. State lives in the store, so a job cut off by a restart is found
 * (still 'running') and queued again by the next process.
 */
export class JobQueue {
  private readonly waiting: string[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: QueueOptions) {}

  get length(): number {
    return this.waiting.length;
  }

  get active(): number {
    return this.running.size;
  }

  /** Queues the jobs a previous process left unfinished; fails those that used all their attempts. */
  resume(): { requeued: number; failed: number } {
    const { requeued, failed } = this.options.store.requeueInterrupted(this.options.maxAttempts);
    for (const id of failed) this.options.log(`case ${id}: failed after ${this.options.maxAttempts} attempt(s)`);
    for (const id of requeued) this.enqueue(id);
    return { requeued: requeued.length, failed: failed.length };
  }

  enqueue(caseId: string): void {
    if (this.abort.signal.aborted) return;
    this.waiting.push(caseId);
    this.pump();
  }

  /** Resolves when nothing is queued or running (tests and benchmarks). */
  idle(): Promise<void> {
    if (this.waiting.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((done) => this.idleWaiters.push(done));
  }

  /**
   * Stops taking jobs and aborts the running ones: their rows stay 'running', which the next
   * start re-queues, and nothing they finish afterwards is written. Waits (at most `graceMs`)
   * for the analyzer to let go, so the caller may close the database and remove files.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.abort.abort();
    this.waiting.length = 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running.values()]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private pump(): void {
    while (!this.abort.signal.aborted && this.running.size < this.options.concurrency && this.waiting.length > 0) {
      const caseId = this.waiting.shift() as string;
      // Whatever escapes a job (the store, the file system) is logged and ends that job only.
      const job = this.run(caseId)
        .catch((error: Error) => this.options.log(`case ${caseId}: ${error.stack ?? error.message}`))
        .finally(() => {
          this.running.delete(caseId);
          this.pump();
          if (this.waiting.length === 0 && this.running.size === 0) {
            for (const done of this.idleWaiters.splice(0)) done();
          }
        });
      this.running.set(caseId, job);
    }
  }

  private async run(caseId: string): Promise<void> {
    const { store, analyzer, metrics, log } = this.options;
    const row = store.getCase(caseId);
    if (!row) return;
    const outDir = join(this.options.casesDir, caseId);
    const signal = this.abort.signal;
    store.markRunning(caseId);
    const started = performance.now();
    let lastWritten = -1;
    try {
      await mkdir(outDir, { recursive: true });
      const result = await analyzer.analyze({
        volumePath: join(outDir, row.inputFile),
        format: row.format,
        pluginIds: row.pluginIds,
        outDir,
        caseName: row.originalName ?? caseId,
        signal,
        onProgress: ({ fraction, stage }) => {
          if (signal.aborted) return;
          const f = Math.max(0, Math.min(1, fraction));
          // One row update per percent is plenty for a progress bar.
          if (Math.abs(f - lastWritten) >= 0.01 || f === 1) {
            lastWritten = f;
            store.setProgress(caseId, f, stage);
          }
        },
      });
      if (signal.aborted) return;
      const checked = await checkResult(result, outDir, row.pluginIds, analyzer);
      const ms = performance.now() - started;
      store.finish(caseId, checked.imageFile, checked.predictions, ms);
      metrics.observeInference(ms / 1000, 'done');
    } catch (error) {
      if (signal.aborted) return;
      // The analysis process died under this job: another start may pass (memory is freed with the
      // process), until the job has used its attempts.
      const attempts = store.getCase(caseId)?.attempts ?? 0;
      if (error instanceof AnalysisProcessEnded && attempts < this.options.maxAttempts) {
        log(`case ${caseId}: ${error.message}; attempt ${attempts} of ${this.options.maxAttempts}, queued again`);
        store.requeue(caseId);
        this.waiting.push(caseId);
        return;
      }
      const raw = isInputError(error) ? error.message : `inference failed: ${(error as Error).message}`;
      // The client sees case-relative file names, never the server's folders.
      const message = raw.replaceAll(outDir + sep, '').replaceAll(this.options.casesDir, 'cases');
      const final = error instanceof AnalysisProcessEnded ? `${message} (after ${attempts} attempt(s))` : message;
      log(`case ${caseId}: ${final}`);
      store.fail(caseId, final);
      metrics.observeInference((performance.now() - started) / 1000, 'failed');
    }
  }
}

/**
 * Keeps the analyzer honest: every file it names must lie inside the case folder and exist,
 * and every prediction must belong to a plugin and label that were asked for.
 */
async function checkResult(
  result: AnalysisResult,
  outDir: string,
  pluginIds: string[],
  analyzer: CaseAnalyzer,
): Promise<{ imageFile: string; predictions: PredictionRow[] }> {
  const inside = async (path: string, what: string) => {
    const full = resolve(outDir, path);
    if (!full.startsWith(resolve(outDir) + sep)) throw new Error(`${what} ${path} is outside the case folder`);
    const info = await stat(full);
    if (!info.isFile()) throw new Error(`${what} ${path} is not a file`);
    const rel = relative(outDir, full);
    return rel;
  };
  const imageFile = await inside(result.imagePath, 'image');
  const predictions: PredictionRow[] = [];
  for (const pluginId of pluginIds) {
    const plugin = analyzer.plugins.find((p) => p.id === pluginId);
    const probabilities = result.predictions[pluginId];
    if (!plugin || !probabilities) throw new Error(`no predictions for plugin ${pluginId}`);
    for (const label of plugin.labels) {
      const probability = probabilities[label];
      if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1))
        throw new Error(`plugin ${pluginId} label ${label}: probability ${probability} is not in [0, 1]`);
      const heatmap = result.heatmaps[pluginId]?.[label];
      const heatmapFile = heatmap ? await inside(heatmap, `heatmap ${pluginId}/${label}`) : null;
      predictions.push({ pluginId, label, probability, heatmapFile });
    }
  }
  return { imageFile, predictions };
}
