import { Redis } from 'ioredis';
import { InputError } from '../util/errors.js';

/** How BullMQ (queues, workers, events) connects: plain options, so every client opens its own connections. */
export interface RedisConnection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
  /** BullMQ's workers need null (retry forever while Redis restarts). */
  maxRetriesPerRequest: null;
}

/** --redis, else $ANYMC3D_REDIS_URL; absent: everything runs in this process. */
export function redisUrl(flag: string | undefined): string | undefined {
  return flag ?? process.env.ANYMC3D_REDIS_URL ?? undefined;
}

/** ioredis options for BullMQ from a redis:// or rediss:// URL (BullMQ's workers need maxRetriesPerRequest null). */
export function redisOptions(url: string): RedisConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(url, 'not a Redis URL (redis://host:port[/db])');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new InputError(url, `not a Redis URL: the scheme must be redis:// or rediss://, got ${u.protocol}//`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new InputError(url, `the database number "${u.pathname.slice(1)}" is not a whole number`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * Checks that Redis answers a PING within `timeoutMs`, so an unreachable server is one clear line
 * (naming the URL and the error) instead of BullMQ retrying forever; returns the options to connect with.
 */
export async function checkRedis(url: string, timeoutMs = 5000): Promise<RedisConnection> {
  const options = redisOptions(url);
  const probe = new Redis({
    host: options.host,
    port: options.port,
    db: options.db,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
    ...(options.tls ? { tls: {} } : {}),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The socket's own error (ECONNREFUSED, ENOTFOUND …) says more than ioredis' "Connection is closed".
  let socketError: NodeJS.ErrnoException | undefined;
  probe.on('error', (error: NodeJS.ErrnoException) => {
    socketError ??= error;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await probe.connect();
        await probe.ping();
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    const cause = socketError ?? (error as NodeJS.ErrnoException);
    const why = cause instanceof Error ? (cause.code ?? cause.message) : String(cause);
    throw new InputError(
      url,
      `cannot reach Redis (${why}): start redis-server there, or fix --redis / ANYMC3D_REDIS_URL`,
    );
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
  return options;
}
