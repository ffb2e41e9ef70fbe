/**
 * Counters for `GET /metrics` in the Prometheus text format: requests by route and status,
 * the queue, inference time, and the process's memory.
 */
export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly inference = new Map<string, { count: number; sum: number; max: number }>();
  private readonly started = Date.now();

  countRequest(method: string, route: string, status: number): void {
    const key = `method="${method}",route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  observeInference(seconds: number, outcome: 'done' | 'failed'): void {
    const s = this.inference.get(outcome) ?? { count: 0, sum: 0, max: 0 };
    s.count++;
    s.sum += seconds;
    s.max = Math.max(s.max, seconds);
    this.inference.set(outcome, s);
  }

  render(queue: { queued: number; running: number }): string {
    const lines: string[] = [];
    lines.push('# HELP anymc3d_http_requests_total HTTP requests by method, route and status.');
    lines.push('# TYPE anymc3d_http_requests_total counter');
    for (const [labels, n] of [...this.requests].sort()) lines.push(`anymc3d_http_requests_total{${labels}} ${n}`);
    lines.push('# HELP anymc3d_queue_length Inference jobs waiting.');
    lines.push('# TYPE anymc3d_queue_length gauge');
    lines.push(`anymc3d_queue_length ${queue.queued}`);
    lines.push('# HELP anymc3d_jobs_running Inference jobs running.');
    lines.push('# TYPE anymc3d_jobs_running gauge');
    lines.push(`anymc3d_jobs_running ${queue.running}`);
    lines.push('# HELP anymc3d_inference_seconds Inference time per case.');
    lines.push('# TYPE anymc3d_inference_seconds summary');
    for (const [outcome, s] of this.inference) {
      lines.push(`anymc3d_inference_seconds_count{outcome="${outcome}"} ${s.count}`);
      lines.push(`anymc3d_inference_seconds_sum{outcome="${outcome}"} ${s.sum.toFixed(3)}`);
      lines.push(`anymc3d_inference_seconds_max{outcome="${outcome}"} ${s.max.toFixed(3)}`);
    }
    const memory = process.memoryUsage();
    lines.push('# HELP process_resident_memory_bytes Resident memory.');
    lines.push('# TYPE process_resident_memory_bytes gauge');
    lines.push(`process_resident_memory_bytes ${memory.rss}`);
    lines.push('# TYPE nodejs_heap_used_bytes gauge');
    lines.push(`nodejs_heap_used_bytes ${memory.heapUsed}`);
    lines.push('# TYPE process_uptime_seconds gauge');
    lines.push(`process_uptime_seconds ${((Date.now() - this.started) / 1000).toFixed(1)}`);
    return `${lines.join('\n')}\n`;
  }
}
