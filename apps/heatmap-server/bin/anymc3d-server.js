#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.hugetlb=1:${GLIBC_TUNABLES} node
// The installed `anymc3d-server` command. npm links bins at install time, before any build, so the link
// points at this committed file, which runs the build output (or says how to make it).
// glibc's malloc asks for transparent huge pages (GLIBC_TUNABLES, before any of yours, which win):
// a CT's 100–300 MB buffers then fault in 2 MB at a time, not 4 KB (one CT end to end, all but the
// backbone, in one machine period: 5.14 → 4.10 s with MobileNet, 4.48 → 3.35 s with ViT-S on 2
// cores; bench/RESULTS.md).
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('anymc3d-server: not built yet: run `npm run build` at the repository root first\n');
  process.exit(1);
}
await import(built.href);
