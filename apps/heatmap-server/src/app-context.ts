import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CaseAnalyzer } from './analyzer.js';
import type { AuthThrottle } from './auth.js';
import type { ServerConfig, User } from './config.js';
import type { Metrics } from './metrics.js';
import type { JobQueue } from './queue.js';
import type { Store } from './store.js';
import type { BytesCache, VolumeCache } from './volume-cache.js';

/** What every route handler may use; built once by createServer. */
export interface AppContext {
  config: ServerConfig;
  store: Store;
  analyzer: CaseAnalyzer;
  queue: JobQueue;
  metrics: Metrics;
  casesDir: string;
  tmpDir: string;
  volumes: VolumeCache;
  pngs: BytesCache;
  throttle: AuthThrottle;
  log: (message: string) => void;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  /** The authenticated user (null on public routes without a token). */
  user: User | null;
}

export type Access = 'public' | 'reviewer' | 'admin';

export interface Route {
  method: 'GET' | 'POST';
  /** Literal segments, `:name` or `:name.ext` (the extension is required and stripped). */
  pattern: string;
  access: Access;
  handle(app: AppContext, ctx: RequestContext): Promise<void> | void;
}
