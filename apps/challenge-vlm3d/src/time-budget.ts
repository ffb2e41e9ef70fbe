/** Cases timed before the first projection is said: one is mostly ONNX Runtime's warm-up. */
const FIRST_REPORT = 3;

export interface Projection {
  /** A log line with the projection (after the first volumes, then at every tenth of the run). */
  report?: string;
  /** Set when the projected total exceeds the budget: why the run stops. */
  over?: string;
}

/**
 * Projects a run's total time from the volumes done so far and says when it would overrun its
 * budget. The platform's budget counts the whole container, so the clock starts when the process
 * did (model loading included). The first volume carries ONNX Runtime's warm-up, so once a second
 * one is done the rate comes from the volumes after the first.
 */
export class TimeBudget {
  /** Volumes done so far, and when the first was (the steady rate is measured from there). */
  private done = 0;
  private firstAt = 0;

  constructor(
    readonly minutes: number,
    readonly cases: number,
    readonly startedAt: number,
  ) {
    if (!(minutes > 0 && Number.isFinite(minutes)))
      throw new RangeError(`time budget must be positive minutes, got ${minutes}`);
  }

  /** Call when a case is done, with the current time (ms); returns what to log and whether to stop. */
  caseDone(now: number): Projection {
    const done = ++this.done;
    if (done === 1) this.firstAt = now;
    const remaining = this.cases - done;
    const steady = done >= 2 ? (now - this.firstAt) / (done - 1) : now - this.startedAt;
    const projected = (now - this.startedAt + remaining * steady) / 60_000;
    const line =
      `time budget: ${done}/${this.cases} volumes in ${((now - this.startedAt) / 60_000).toFixed(1)} min, ` +
      `${(steady / 1000).toFixed(1)} s per volume → ${projected.toFixed(1)} min projected of ${this.minutes} min`;
    const out: Projection = {};
    const tenth = Math.max(1, Math.round(this.cases / 10));
    if (done === Math.min(FIRST_REPORT, this.cases) || (done > FIRST_REPORT && done % tenth === 0)) out.report = line;
    // Decide only on a steady rate (or when the time is already gone): one slow warm-up must not end a run.
    if (
      remaining > 0 &&
      projected > this.minutes &&
      (done >= Math.min(FIRST_REPORT, this.cases) || now - this.startedAt > this.minutes * 60_000)
    ) {
      out.over =
        `stopped early: ${this.cases} volumes would take about ${projected.toFixed(1)} min, over the ` +
        `${this.minutes} min time budget (${done} done, ${(steady / 1000).toFixed(1)} s per volume); ` +
        'nothing was written — use a faster device (--device cuda), a smaller input size, or a larger budget';
    }
    return out;
  }
}
