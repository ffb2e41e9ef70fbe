#!/usr/bin/env node
// The installed `anymc3d-server` command. npm links bins at install time, before any build, so the link
// points at this committed file, which runs the build output (or says how to make it).
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('anymc3d-server: not built yet: run `npm run build` at the repository root first\n');
  process.exit(1);
}
await import(built.href);
