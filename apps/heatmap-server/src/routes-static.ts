import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestContext, Route } from './app-context.js';
import { notFound } from './http-util.js';

const PAGE_DIR = fileURLToPath(new URL('../assets/page/', import.meta.url));

/** The reviewer page's own files, by fixed name: no request path reaches the file system. */
const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** niivue's self-contained ESM build, served from node_modules (no CDN, no bundler). */
export function niivueBundlePath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'node_modules', '@niivue', 'niivue', 'dist', 'index.js');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('@niivue/niivue is not installed (npm ci)');
    dir = up;
  }
}

const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "worker-src 'self' blob:",
  "connect-src 'self' blob: data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const cache = new Map<string, Buffer>();

async function serve({ req, res }: RequestContext, path: string, type: string): Promise<void> {
  let body = cache.get(path);
  if (!body) {
    body = await readFile(path).catch(() => undefined);
    if (!body) throw notFound();
    cache.set(path, body);
  }
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': body.length,
    'Content-Security-Policy': CSP,
    'Cache-Control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export const staticRoutes: Route[] = [
  ...Object.entries(PAGE_FILES).map(
    ([pattern, { file, type }]): Route => ({
      method: 'GET',
      pattern,
      access: 'public',
      handle: (_app, ctx) => serve(ctx, join(PAGE_DIR, file), type),
    }),
  ),
  {
    method: 'GET',
    pattern: '/vendor/niivue.js',
    access: 'public',
    handle: (_app, ctx) => serve(ctx, niivueBundlePath(), 'text/javascript; charset=utf-8'),
  },
];
