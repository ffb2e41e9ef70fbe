#!/usr/bin/env node
import { runVlm3d } from './cli.js';

process.exitCode = await runVlm3d(process.argv.slice(2));
