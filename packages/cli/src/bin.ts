#!/usr/bin/env node
import { hideBin } from 'yargs/helpers';
import { runCli } from './cli.js';

// A reader that stops early (`anymc3d backbones list | head -1`, `| grep -q`) closes the pipe;
// like coreutils, the command then just ends, instead of dying on an unhandled EPIPE with a stack.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await runCli(hideBin(process.argv));
