import cliProgress from 'cli-progress';

/** One progress event, as core's long-running work reports it. */
export interface ProgressEvent {
  /** What is running, e.g. 'features', 'train'. */
  stage: string;
  done: number;
  total: number;
  /** Short free text: loss, throughput, current case … */
  detail?: string;
}

export type ProgressSink = (event: ProgressEvent) => void;

export interface ProgressOptions {
  enabled: boolean;
  quiet: boolean;
  /** Where progress goes; stderr by default so stdout stays machine-readable. */
  stream?: NodeJS.WriteStream;
  /** Minimum seconds between plain lines when not on a TTY. */
  lineInterval?: number;
}

/**
 * Progress as users of the field expect: a bar on a TTY, a plain line every few seconds
 * otherwise (CI logs), nothing with --no-progress or -q. Returns the sink and a `stop` that
 * finishes the bar.
 */
export function createProgress(options: ProgressOptions): { report: ProgressSink; stop: () => void } {
  const stream = options.stream ?? process.stderr;
  if (!options.enabled || options.quiet) return { report: () => {}, stop: () => {} };
  if (stream.isTTY) {
    let bar: cliProgress.SingleBar | null = null;
    let stage = '';
    const report: ProgressSink = (e) => {
      if (!bar || stage !== e.stage) {
        bar?.stop();
        stage = e.stage;
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${e.stage.padEnd(10)} [{bar}] {percentage}% {value}/{total} ETA {eta_formatted} {detail}`,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(e.total, e.done, { detail: e.detail ?? '' });
      }
      bar.setTotal(e.total);
      bar.update(e.done, { detail: e.detail ?? '' });
    };
    return { report, stop: () => bar?.stop() };
  }
  const interval = (options.lineInterval ?? 5) * 1000;
  const started = new Map<string, number>();
  let last = 0;
  const report: ProgressSink = (e) => {
    const now = Date.now();
    if (!started.has(e.stage)) started.set(e.stage, now);
    const finished = e.done >= e.total;
    if (!finished && now - last < interval && e.done !== 0) return;
    last = now;
    const elapsed = (now - started.get(e.stage)!) / 1000;
    const eta = e.done > 0 && !finished ? ` eta ${Math.round((elapsed / e.done) * (e.total - e.done))}s` : '';
    stream.write(`${e.stage}: ${e.done}/${e.total} (${elapsed.toFixed(1)}s${eta})${e.detail ? ` ${e.detail}` : ''}\n`);
  };
  return { report, stop: () => {} };
}
