import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parentPort, type Transferable, Worker } from 'node:worker_threads';
import { InputError } from './errors.js';

/**
 * Requests to a module running in a worker_thread, and its answers, as promises. The worker is
 * unref'd while idle (an idle worker keeps no process alive) and an `InputError` thrown there is
 * an `InputError` here, so bad input is reported the same wherever the work ran.
 */

type Reply<R> =
  | { id: number; ok: true; result: R }
  | { id: number; ok: false; error: { source?: string; problem?: string; message?: string } };

export class RpcWorker<Q, R> {
  private readonly worker: Worker;
  private next = 0;
  private readonly pending = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();
  private busy = 0;
  private dead: Error | undefined;

  /** `name` says which worker failed in errors ("volume reader"). */
  constructor(
    url: URL,
    private readonly name: string,
  ) {
    this.worker = new Worker(url);
    this.worker.unref();
    this.worker.on('message', (reply: Reply<R>) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (--this.busy === 0) this.worker.unref();
      if (reply.ok) p.resolve(reply.result);
      else if (reply.error.source !== undefined)
        p.reject(new InputError(reply.error.source, reply.error.problem ?? ''));
      else p.reject(new Error(reply.error.message));
    });
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) => this.failAll(new Error(`${this.name} worker exited with code ${code}`)));
  }

  /** Whether the worker has died (errors or exited); a dead one answers nothing more. */
  get alive(): boolean {
    return this.dead === undefined;
  }

  call(request: Q, transfer: readonly Transferable[] = []): Promise<R> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    if (this.busy++ === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, request }, [...transfer]);
    });
  }

  /** Stops the worker; pending calls fail. */
  async terminate(): Promise<void> {
    this.dead ??= new Error(`${this.name} worker was stopped`);
    await this.worker.terminate();
  }

  private failAll(error: Error): void {
    this.dead ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}

/** The worker side: answers each request with `handle`'s result (its `transfer` list moved, not copied). */
export function serveRpc<Q, R>(handle: (request: Q) => Promise<{ result: R; transfer?: Transferable[] }>): void {
  parentPort?.on('message', async (message: { id: number; request: Q }) => {
    try {
      const { result, transfer } = await handle(message.request);
      parentPort?.postMessage({ id: message.id, ok: true, result } satisfies Reply<R>, transfer ?? []);
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      parentPort?.postMessage({
        id: message.id,
        ok: false,
        error: error instanceof InputError ? { source: error.source, problem: error.problem } : { message: e.message },
      } satisfies Reply<R>);
    }
  });
}

/** Whether a worker script exists: only once compiled (under vitest the sources are .ts). */
export function workerAvailable(url: URL): boolean {
  return url.protocol === 'file:' && existsSync(fileURLToPath(url));
}
