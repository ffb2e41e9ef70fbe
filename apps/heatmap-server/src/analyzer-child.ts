/**
 * The analysis process: builds an analyzer from a module (its `createAnalyzer` export) and runs
 * the jobs the server sends over IPC. Whatever happens here — a volume that exhausts memory, a
 * native crash — ends this process, not the server (see process-analyzer.ts).
 */
import { isInputError } from '@anymc3d/core/util';
import type { AnalysisRequest, CaseAnalyzer } from './analyzer.js';
import type { ChildMessage, ParentMessage } from './process-protocol.js';

const send = (m: ChildMessage) => process.send?.(m);

let analyzer: CaseAnalyzer | undefined;
const aborts = new Map<number, AbortController>();

async function handle(m: ParentMessage): Promise<void> {
  if (m.type === 'init') {
    const module = (await import(m.module)) as { createAnalyzer(options: unknown): Promise<CaseAnalyzer> };
    analyzer = await module.createAnalyzer(m.options);
    send({ type: 'ready', id: m.id, plugins: [...analyzer.plugins] });
    return;
  }
  if (!analyzer) throw new Error('the analysis process was not initialised');
  if (m.type === 'load') {
    const info = await analyzer.loadPlugin(m.dir);
    send({ type: 'loaded', id: m.id, info, plugins: [...analyzer.plugins] });
    return;
  }
  if (m.type === 'abort') {
    aborts.get(m.job)?.abort();
    return;
  }
  if (m.type === 'analyze') {
    const abort = new AbortController();
    aborts.set(m.id, abort);
    try {
      const request: AnalysisRequest = {
        ...m.request,
        signal: abort.signal,
        onProgress: (progress) => send({ type: 'progress', id: m.id, progress }),
      };
      send({ type: 'result', id: m.id, result: await analyzer.analyze(request) });
    } finally {
      aborts.delete(m.id);
    }
    return;
  }
  if (m.type === 'close') {
    await analyzer.close?.();
    send({ type: 'closed', id: m.id });
    process.disconnect?.();
  }
}

process.on('message', (m: ParentMessage) => {
  handle(m).catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    send({
      type: 'error',
      id: m.id,
      message,
      ...(isInputError(error) ? { input: { source: error.source, problem: error.problem } } : {}),
    });
  });
});
