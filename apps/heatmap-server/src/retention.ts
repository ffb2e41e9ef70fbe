import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppContext } from './app-context.js';

const HOUR = 3_600_000;

/**
 * Deletes the files (input, image, heatmaps, reports) of finished cases older than
 * `config.retainDays`, at start and every hour; the case row stays, marked purged, and the audit
 * trail records each purge. Off when `retainDays` is 0.
 */
export class Retention {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly app: AppContext) {}

  start(): void {
    if (!(this.app.config.retainDays > 0)) return;
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), HOUR);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass; returns the cases purged. */
  async sweep(now = Date.now()): Promise<string[]> {
    const { store, casesDir, config, log } = this.app;
    const before = new Date(now - config.retainDays * 24 * HOUR).toISOString();
    const purged: string[] = [];
    for (const id of store.casesToPurge(before)) {
      try {
        await rm(join(casesDir, id), { recursive: true, force: true });
        store.markPurged(id);
        store.audit({
          user: 'server',
          role: 'system',
          action: 'purge',
          caseId: id,
          detail: `older than ${config.retainDays} day(s)`,
        });
        purged.push(id);
      } catch (error) {
        log(`retention: case ${id}: ${(error as Error).message}`);
      }
    }
    if (purged.length)
      log(`retention: deleted the files of ${purged.length} case(s) older than ${config.retainDays} day(s)`);
    return purged;
  }
}
