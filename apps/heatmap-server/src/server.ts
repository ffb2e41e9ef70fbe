import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { CaseAnalyzer } from './analyzer.js';
import type { AppContext, Route } from './app-context.js';
import { AuthThrottle, answerPreflight, applyCors, authorize, userOf } from './auth.js';
import type { ServerConfig } from './config.js';
import { HttpError, pathSegments, sendError, sendJson } from './http-util.js';
import { acquireLock } from './lock.js';
import { Metrics } from './metrics.js';
import { JobQueue } from './queue.js';
import { Retention } from './retention.js';
import { matchRoute } from './router.js';
import { caseRoutes } from './routes-cases.js';
import { pluginRoutes } from './routes-plugins.js';
import { staticRoutes } from './routes-static.js';
import { Store } from './store.js';
import { BytesCache, VolumeCache } from './volume-cache.js';

export interface CreateServerOptions {
  config: ServerConfig;
  /** The inference boundary; the server never touches a model itself. */
  analyzer: CaseAnalyzer;
  log?: (message: string) => void;
}

export interface HeatmapServer {
  /** Starts listening and re-queues jobs a previous process left unfinished; returns the base URL. */
  listen(): Promise<string>;
  /** Stops listening, abandons running jobs (re-queued at the next start), closes the database. */
  close(): Promise<void>;
  readonly url: string;
  readonly app: AppContext;
}

const ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: '/healthz',
    access: 'public',
    handle: (app, { res }) => sendJson(res, 200, { status: 'ok', queued: app.queue.length, running: app.queue.active }),
  },
  {
    method: 'GET',
    pattern: '/metrics',
    access: 'reviewer',
    handle: (app, { res }) => {
      const text = app.metrics.render({ queued: app.queue.length, running: app.queue.active });
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    },
  },
  ...pluginRoutes,
  ...caseRoutes,
  ...staticRoutes,
];

/**
 * The heatmap server: a JSON API over stored cases, a background inference queue, and the
 * reviewer page. Storage is `<dataDir>/anymc3d.sqlite` plus `<dataDir>/cases/<id>/` files.
 */
export async function createServer({
  config,
  analyzer,
  log = defaultLog,
}: CreateServerOptions): Promise<HeatmapServer> {
  const casesDir = join(config.dataDir, 'cases');
  const tmpDir = join(config.dataDir, 'tmp');
  await mkdir(casesDir, { recursive: true });
  await mkdir(tmpDir, { recursive: true });
  // One server per data folder: two would run each other's jobs and interleave their writes.
  const lock = await acquireLock(config.dataDir);
  // Uploads cut off by a previous stop never became cases: their partial files go.
  for (const name of await readdir(tmpDir)) await rm(join(tmpDir, name), { force: true, recursive: true });
  const store = new Store(join(config.dataDir, 'anymc3d.sqlite'));
  const metrics = new Metrics();
  const queue = new JobQueue({
    store,
    analyzer,
    casesDir,
    concurrency: config.concurrency,
    maxAttempts: config.maxAttempts,
    metrics,
    log,
  });
  const app: AppContext = {
    config,
    store,
    analyzer,
    queue,
    metrics,
    casesDir,
    tmpDir,
    volumes: new VolumeCache(1 << 30),
    pngs: new BytesCache(64 << 20),
    throttle: new AuthThrottle(),
    log,
  };
  const retention = new Retention(app);
  for (const dir of store.rememberedPlugins()) {
    await analyzer.loadPlugin(dir).catch((error: Error) => log(`plugin ${dir} not reloaded: ${error.message}`));
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(app, req, res).catch((error: Error) => {
      log(`unhandled: ${error.stack ?? error.message}`);
      if (!res.headersSent) sendError(res, new HttpError(500, 'internal', 'internal error'));
      else res.destroy();
    });
  };
  // A stalled client is cut off once it has not sent its headers in time (checked at least every
  // second); large uploads on slow links are not, but a body that stops flowing is (socket idle).
  const options = {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: 0,
    keepAliveTimeout: 5_000,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, config.headersTimeoutMs / 2)),
  };
  const server = config.tls
    ? createHttpsServer(
        { ...options, cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) },
        listener,
      )
    : createHttpServer(options, listener);
  server.maxConnections = config.maxConnections;
  server.setTimeout(120_000, (socket) => socket.destroy());
  let url = '';

  return {
    app,
    get url() {
      return url;
    },
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `${config.tls ? 'https' : 'http'}://${host}:${address.port}`;
      const resumed = queue.resume();
      if (resumed.requeued > 0) log(`re-queued ${resumed.requeued} unfinished job(s)`);
      if (resumed.failed > 0) log(`failed ${resumed.failed} job(s) that had used all their attempts`);
      retention.start();
      return url;
    },
    async close() {
      retention.stop();
      await queue.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      store.close();
      await analyzer.close?.();
      await lock.release();
    },
  };
}

async function handle(app: AppContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let routeName = 'unmatched';
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.on('finish', () => app.metrics.countRequest(req.method ?? '?', routeName, res.statusCode));
  const corsOk = applyCors(req, res, app.config.corsOrigins);
  if (req.method === 'OPTIONS') {
    routeName = 'preflight';
    answerPreflight(res, corsOk);
    return;
  }
  try {
    const url = new URL(req.url ?? '/', 'http://server.invalid');
    const api = /^\/v1(\/|$)/.test(url.pathname) || /^\/v1(\/|$)/i.test(req.url ?? '');
    // API answers carry patient data or its metadata: no cache keeps them (routes may not loosen this).
    if (api) res.setHeader('Cache-Control', 'no-store');
    const address = req.socket.remoteAddress ?? '?';
    const wait = app.throttle.retryAfter(address);
    if (api && wait > 0) {
      res.setHeader('Retry-After', String(wait));
      throw new HttpError(
        429,
        'too_many_failures',
        `too many failed authentications from this address; retry in ${wait} s`,
      );
    }
    const user = userOf(req, app.config.tokens);
    if (api && !user && req.headers.authorization !== undefined) app.throttle.fail(address);
    // Every API path asks for a token before anything about it is told (even that it exists).
    if (api) authorize('reviewer', user);
    // The raw path, not url.pathname: the URL parser would quietly resolve `..` segments.
    const rawPath = (req.url ?? '/').split('?')[0] as string;
    const segments = rawPath.startsWith('/') ? pathSegments(rawPath) : null;
    const match = segments ? matchRoute(ROUTES, req.method ?? 'GET', segments) : null;
    if (match === null) throw new HttpError(404, 'not_found', 'not found');
    if (match === 'method') throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here`);
    routeName = match.route.pattern;
    authorize(match.route.access, user);
    await match.route.handle(app, { req, res, url, params: match.params, user });
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    if (error.status === 413 && !req.complete) {
      // Tell the client now, then drop the connection rather than read the rest of an oversize body.
      res.setHeader('Connection', 'close');
      req.resume();
      setTimeout(() => req.socket.destroy(), 10_000).unref();
    }
    sendError(res, error);
  }
}

function defaultLog(message: string): void {
  process.stderr.write(`anymc3d-server: ${message}\n`);
}
