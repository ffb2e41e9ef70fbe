#!/usr/bin/env node
import { isInputError } from '@anymc3d/core/util';
import { configFromArgs, USAGE } from './config.js';
import { DEFAULT_ANALYZER_MODULE } from './default-analyzer.js';
import { ProcessAnalyzer } from './process-analyzer.js';
import { createServer } from './server.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // Asked for: the usage on stdout and success, as every other command of the project answers --help.
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = configFromArgs(args, process.env);
  // The engine runs in a process of its own: a job that exhausts memory ends that process, not the server.
  const analyzer = await ProcessAnalyzer.create({
    module: DEFAULT_ANALYZER_MODULE,
    options: { backbone: config.backbone, plugins: [] },
    plugins: config.plugins,
    log: (m) => process.stderr.write(`anymc3d-server: ${m}\n`),
  });
  const server = await createServer({ config, analyzer });
  const url = await server.listen();
  process.stderr.write(
    `anymc3d-server: listening on ${url} (data ${config.dataDir}, ${analyzer.plugins.length} plugin(s))\n`,
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

main().catch((error: unknown) => {
  process.stderr.write(
    `${isInputError(error) ? `anymc3d-server: ${error.message}` : ((error as Error).stack ?? String(error))}\n`,
  );
  process.exit(1);
});
