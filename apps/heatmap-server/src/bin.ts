#!/usr/bin/env node
import { InputError, isInputError } from '@anymc3d/core/util';
import yargs from 'yargs';
import { startAnalysisWorker } from './analysis-worker.js';
import { configFromArgs, USAGE } from './config.js';
import { DEFAULT_ANALYZER_MODULE } from './default-analyzer.js';
import { ProcessAnalyzer } from './process-analyzer.js';
import { RedisAnalyzer } from './redis-analyzer.js';
import { createServer } from './server.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // Asked for: the usage on stdout and success, as every other command of the project answers --help.
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args[0] === 'worker') return runWorker(args.slice(1));
  const config = configFromArgs(args, process.env);
  // With Redis, workers on other machines run the engine; without, a process of its own does, so a
  // job that exhausts memory ends that process, not the server.
  const analyzer = config.redis
    ? await RedisAnalyzer.create({ url: config.redis, backbone: config.backbone, plugins: config.plugins })
    : await ProcessAnalyzer.create({
        module: DEFAULT_ANALYZER_MODULE,
        options: { backbone: config.backbone, plugins: [] },
        plugins: config.plugins,
        log: (m) => process.stderr.write(`anymc3d-server: ${m}\n`),
      });
  const server = await createServer({ config, analyzer });
  const url = await server.listen();
  process.stderr.write(
    `anymc3d-server: listening on ${url} (data ${config.dataDir}, ${analyzer.plugins.length} plugin(s)` +
      `${config.redis ? `, analyses by workers through ${config.redis}` : ''})\n`,
  );
  if (config.tokens.size === 0)
    process.stderr.write('anymc3d-server: ANYMC3D_TOKENS is empty: every API call gets 401\n');
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** `anymc3d-server worker --redis URL [--threads T] [--concurrency N] [--lock-seconds S]`: analyses for a `--redis` server. */
async function runWorker(argv: string[]): Promise<void> {
  const a = yargs(argv)
    .scriptName('anymc3d-server worker')
    .option('redis', { type: 'string', describe: 'Redis URL (default $ANYMC3D_REDIS_URL)' })
    .option('threads', { type: 'number', describe: 'ONNX Runtime threads' })
    .option('concurrency', { type: 'number', default: 1, describe: 'Analyses at once' })
    .option('lock-seconds', {
      type: 'number',
      default: 300,
      describe: 'A dead worker’s analysis returns to the queue after this',
    })
    .strict()
    .exitProcess(false)
    .fail((message: string) => {
      throw new InputError('anymc3d-server worker', message);
    })
    .parseSync();
  const url = a.redis ?? process.env.ANYMC3D_REDIS_URL;
  if (!url) throw new InputError('anymc3d-server worker', '--redis URL is required (or ANYMC3D_REDIS_URL)');
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const worker = await startAnalysisWorker({
    url,
    concurrency: a.concurrency,
    lockSeconds: a['lock-seconds'],
    ...(a.threads ? { threads: a.threads } : {}),
    log,
  });
  log(`analysis worker ready: ${url}; SIGTERM finishes the running analysis, then exits`);
  await new Promise<void>((resolve) => {
    const stop = () => worker.close().then(resolve, resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${isInputError(error) ? `anymc3d-server: ${error.message}` : ((error as Error).stack ?? String(error))}\n`,
  );
  process.exit(1);
});
