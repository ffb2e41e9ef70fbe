import { redisUrl } from '@anymc3d/core/distributed';
import { InputError } from '@anymc3d/core/util';
import type { CommandModule } from 'yargs';
import { startCaseWorker } from '../queue/worker.js';
import type { GlobalFlags } from './task-flags.js';

interface WorkerArgs extends GlobalFlags {
  redis?: string;
  concurrency: number;
  threads?: number;
  'lock-seconds': number;
}

export const workerCommand: CommandModule<GlobalFlags, WorkerArgs> = {
  command: 'worker',
  describe:
    'Take case jobs (features, predict) from Redis until stopped: run as many as you like, on as many machines, sharing one feature cache on shared storage',
  builder: (y) =>
    y
      .option('redis', { type: 'string', describe: 'Redis URL (default $ANYMC3D_REDIS_URL), e.g. redis://host:6379' })
      .option('concurrency', { type: 'number', default: 1, describe: 'Jobs at once in this process' })
      .option('threads', { type: 'number', describe: 'ONNX Runtime threads per job (default: all cores)' })
      .option('lock-seconds', {
        type: 'number',
        default: 300,
        describe: 'How long a job stays locked without renewal: a killed worker’s job returns to the queue after this',
      }) as never,
  handler: async (a) => {
    const url = redisUrl(a.redis);
    if (!url) throw new InputError('--redis', 'name the Redis server (or set ANYMC3D_REDIS_URL)');
    for (const [flag, v] of [
      ['--concurrency', a.concurrency],
      ['--lock-seconds', a['lock-seconds']],
    ] as const)
      if (!(Number.isInteger(v) && v > 0)) throw new InputError(flag, `must be a whole number > 0, got ${v}`);
    const log = (line: string) => {
      if (!a.quiet) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
    };
    const running = await startCaseWorker({
      url,
      concurrency: a.concurrency,
      ...(a.threads ? { threads: a.threads } : {}),
      lockSeconds: a['lock-seconds'],
      log,
    });
    log(`worker ready: ${url}, concurrency ${a.concurrency}; SIGTERM finishes the running job(s), then exits`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log(`${signal}: finishing the running job(s)`);
        running.close().then(resolve, resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    log('worker stopped');
  },
};
