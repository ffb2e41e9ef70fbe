import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InputError } from '@anymc3d/core/util';
import type { AnalysisRequest, AnalysisResult, CaseAnalyzer, PluginInfo } from './analyzer.js';
import type { ChildMessage, ParentMessage } from './process-protocol.js';

// The built entry (from dist/ and, in tests run from src/, the same file): the child runs plain Node.
const CHILD = fileURLToPath(new URL('../dist/analyzer-child.js', import.meta.url));

/** The analysis process ended while it worked on a job (killed for memory, a native crash, …). */
export class AnalysisProcessEnded extends Error {
  constructor(how: string) {
    super(`the analysis process ended (${how}) while analysing this case`);
    this.name = 'AnalysisProcessEnded';
  }
}

export interface ProcessAnalyzerOptions {
  /** A module (file URL or path) whose `createAnalyzer(options)` builds the analyzer in the child. */
  module: string;
  options: unknown;
  /** V8 heap limit of the child in MiB (its native memory, ONNX Runtime's, is bounded by the OS). */
  maxOldSpaceMb?: number;
  log?: (message: string) => void;
}

/** A message before its id is given (distributes over the union). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Pending {
  resolve(m: ChildMessage): void;
  reject(e: Error): void;
  onProgress?: (m: Extract<ChildMessage, { type: 'progress' }>) => void;
}

/**
 * The analyzer in a child process of its own, so a job that exhausts memory or crashes ends that
 * process and that job, never the HTTP server: the job's `analyze` rejects with
 * AnalysisProcessEnded and the next job starts a fresh process (the backbone and every plugin
 * loaded again, in their order).
 */
export class ProcessAnalyzer implements CaseAnalyzer {
  private child: ChildProcess | undefined;
  private starting: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private current: PluginInfo[] = [];
  private readonly loadedDirs: string[] = [];
  /** Processes started so far (tests and logs). */
  starts = 0;

  private constructor(private readonly o: ProcessAnalyzerOptions) {}

  static async create(o: ProcessAnalyzerOptions & { plugins?: string[] }): Promise<ProcessAnalyzer> {
    const analyzer = new ProcessAnalyzer(o);
    await analyzer.ensure();
    for (const dir of o.plugins ?? []) await analyzer.loadPlugin(dir);
    return analyzer;
  }

  get plugins(): readonly PluginInfo[] {
    return this.current;
  }

  private ensure(): Promise<void> {
    if (this.child?.connected) return Promise.resolve();
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async start(): Promise<void> {
    const execArgv = this.o.maxOldSpaceMb ? [`--max-old-space-size=${this.o.maxOldSpaceMb}`] : [];
    const child = fork(CHILD, [], {
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.child = child;
    this.starts++;
    child.on('message', (m: ChildMessage) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.type === 'progress') return p.onProgress?.(m);
      this.pending.delete(m.id);
      if (m.type === 'error')
        p.reject(m.input ? new InputError(m.input.source, m.input.problem) : new Error(m.message));
      else p.resolve(m);
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new AnalysisProcessEnded(how));
      }
      this.o.log?.(`analysis process ${child.pid} ended (${how})`);
    });
    const ready = await this.call({ type: 'init', module: this.o.module, options: this.o.options });
    if (ready.type === 'ready') this.current = ready.plugins;
    // A restarted process gets the plugins loaded at run time too, in the order they came.
    for (const dir of this.loadedDirs) {
      const loaded = await this.call({ type: 'load', dir });
      if (loaded.type === 'loaded') this.current = loaded.plugins;
    }
  }

  private call(message: WithoutId<ParentMessage>, onProgress?: Pending['onProgress']): Promise<ChildMessage> {
    const child = this.child;
    if (!child?.connected) return Promise.reject(new AnalysisProcessEnded('not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(onProgress ? { onProgress } : {}) });
      child.send({ ...message, id } as ParentMessage);
    });
  }

  async loadPlugin(dir: string): Promise<PluginInfo> {
    await this.ensure();
    const m = await this.call({ type: 'load', dir });
    if (m.type !== 'loaded') throw new Error(`analysis process: unexpected answer ${m.type}`);
    this.current = m.plugins;
    if (!this.loadedDirs.includes(dir)) this.loadedDirs.push(dir);
    return m.info;
  }

  async analyze(request: AnalysisRequest): Promise<AnalysisResult> {
    await this.ensure();
    const { signal, onProgress, ...rest } = request;
    // The id `call` gives the analyze message below (it is taken synchronously, so nothing comes between).
    const job = this.nextId;
    const onAbort = () => this.child?.send({ type: 'abort', id: 0, job } satisfies ParentMessage);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const m = await this.call({ type: 'analyze', request: rest }, (p) => onProgress(p.progress));
      if (m.type !== 'result') throw new Error(`analysis process: unexpected answer ${m.type}`);
      return m.result;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child?.connected) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await Promise.race([this.call({ type: 'close' }).catch(() => undefined), exited]);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
