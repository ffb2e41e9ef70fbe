import { resolve } from 'node:path';
import { InputError } from '@anymc3d/core/util';
import yargs from 'yargs';

export type Role = 'reviewer' | 'admin';

/** Who a bearer token belongs to: the audit trail and reviews carry the name. */
export interface User {
  role: Role;
  name: string;
}

/** Tokens shorter than this are refused at start: a guessable token is no authentication. */
export const MIN_TOKEN_LENGTH = 32;

export interface ServerConfig {
  host: string;
  port: number;
  /** Absolute (a relative --data is resolved against the working directory once, at start). */
  dataDir: string;
  /** Bearer token → user. Empty means every API route answers 401. */
  tokens: Map<string, User>;
  corsOrigins: string[];
  maxUploadBytes: number;
  /** Limits read from an upload's header before anything is inflated or analysed. */
  maxVoxels: number;
  maxVolumeBytes: number;
  /** Inference jobs run at once; 1 on CPU, where one job already uses every core. */
  concurrency: number;
  /** Starts of one job before it is failed for good (a start the process died in counts). */
  maxAttempts: number;
  /** Uploads refused (503 + Retry-After) while this many jobs wait. */
  maxQueue: number;
  /** Stored cases and bytes under the data folder beyond which uploads are refused (507); 0 = no limit. */
  maxCases: number;
  maxDiskBytes: number;
  /** Inputs and outputs of finished cases older than this are deleted (the case row stays, marked); 0 = kept. */
  retainDays: number;
  /** Connections open at once, and the time a client has to send its request headers. */
  maxConnections: number;
  headersTimeoutMs: number;
  /** TLS: both or neither. Without them, a non-loopback host needs `insecureHttp`. */
  tls?: { cert: string; key: string };
  insecureHttp: boolean;
  /** Folders under which `POST /v1/plugins` may load a plugin (no other path is reachable). */
  pluginRoots: string[];
  /** The backbone the analyzer is started with (a registry name or folder). */
  backbone: string;
  /** Plugin folders loaded at start-up. */
  plugins: string[];
  /** With a Redis URL, analyses go to `anymc3d-server worker`s through BullMQ (results land in the data folder). */
  redis?: string;
}

/**
 * `token:role[:name]` pairs, comma-separated (ANYMC3D_TOKENS). A token is at least 32 characters;
 * the name is how the audit trail and reviews show the person (default: the role and the token's
 * position, e.g. `reviewer-2`).
 */
export function parseTokens(spec: string): Map<string, User> {
  const tokens = new Map<string, User>();
  for (const [k, entry] of spec.split(',').filter(Boolean).entries()) {
    const [token, role = 'reviewer', ...nameParts] = entry.split(':');
    if (!token) continue;
    if (role !== 'reviewer' && role !== 'admin') {
      throw new Error(`ANYMC3D_TOKENS: role "${role}" is not reviewer or admin`);
    }
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new Error(
        `ANYMC3D_TOKENS: token ${k + 1} has ${token.length} characters; at least ${MIN_TOKEN_LENGTH} (e.g. \`openssl rand -hex 24\`)`,
      );
    }
    const name = nameParts.join(':').trim() || `${role}-${k + 1}`;
    if (!/^[\p{L}\p{N} ._@'-]{1,100}$/u.test(name))
      throw new Error(`ANYMC3D_TOKENS: user name "${name}" has characters outside letters, digits, space and ._@'-`);
    tokens.set(token, { role, name });
  }
  return tokens;
}

const positive = (name: string, raw: string | undefined, fallback: number, integer = false): number => {
  const v = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!(Number.isFinite(v) && v >= 0 && (!integer || Number.isInteger(v))))
    throw new Error(`${name}: "${raw}" is not a ${integer ? 'whole ' : ''}number >= 0`);
  return v;
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The server's settings from the environment (ANYMC3D_*). Binds loopback unless told otherwise:
 * a hospital server is opened on purpose, never by default.
 */
export function configFromEnv(env: NodeJS.ProcessEnv, dataDir: string): ServerConfig {
  const port = Number(env.ANYMC3D_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`ANYMC3D_PORT: "${env.ANYMC3D_PORT}" is not a port`);
  const uploadMb = Number(env.ANYMC3D_MAX_UPLOAD_MB ?? 1024);
  if (!(uploadMb > 0))
    throw new Error(`ANYMC3D_MAX_UPLOAD_MB: "${env.ANYMC3D_MAX_UPLOAD_MB}" is not a positive number`);
  const concurrency = Number(env.ANYMC3D_CONCURRENCY ?? 1);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`ANYMC3D_CONCURRENCY: "${env.ANYMC3D_CONCURRENCY}" is not a positive integer`);
  const attempts = positive('ANYMC3D_MAX_ATTEMPTS', env.ANYMC3D_MAX_ATTEMPTS, 3, true);
  if (attempts < 1) throw new Error('ANYMC3D_MAX_ATTEMPTS: at least 1');
  const cert = env.ANYMC3D_TLS_CERT || undefined;
  const key = env.ANYMC3D_TLS_KEY || undefined;
  if (!cert !== !key) throw new Error('ANYMC3D_TLS_CERT and ANYMC3D_TLS_KEY: give both or neither');
  return {
    host: env.ANYMC3D_HOST ?? '127.0.0.1',
    port,
    dataDir: resolve(dataDir),
    tokens: parseTokens(env.ANYMC3D_TOKENS ?? ''),
    corsOrigins: (env.ANYMC3D_CORS_ORIGINS ?? '').split(',').filter(Boolean),
    maxUploadBytes: Math.round(uploadMb * 1024 * 1024),
    maxVoxels: positive('ANYMC3D_MAX_VOXELS', env.ANYMC3D_MAX_VOXELS, 1024 ** 3, true),
    maxVolumeBytes: Math.round(positive('ANYMC3D_MAX_VOLUME_MB', env.ANYMC3D_MAX_VOLUME_MB, 4096) * 1024 * 1024),
    concurrency,
    maxAttempts: attempts,
    maxQueue: positive('ANYMC3D_MAX_QUEUE', env.ANYMC3D_MAX_QUEUE, 100, true),
    maxCases: positive('ANYMC3D_MAX_CASES', env.ANYMC3D_MAX_CASES, 0, true),
    maxDiskBytes: Math.round(positive('ANYMC3D_MAX_DISK_GB', env.ANYMC3D_MAX_DISK_GB, 0) * 1024 ** 3),
    retainDays: positive('ANYMC3D_RETAIN_DAYS', env.ANYMC3D_RETAIN_DAYS, 0),
    maxConnections: positive('ANYMC3D_MAX_CONNECTIONS', env.ANYMC3D_MAX_CONNECTIONS, 256, true),
    headersTimeoutMs: Math.round(positive('ANYMC3D_HEADERS_TIMEOUT_S', env.ANYMC3D_HEADERS_TIMEOUT_S, 30) * 1000),
    ...(cert && key ? { tls: { cert: resolve(cert), key: resolve(key) } } : {}),
    insecureHttp: env.ANYMC3D_INSECURE_HTTP === '1' || env.ANYMC3D_INSECURE_HTTP === 'true',
    pluginRoots: (env.ANYMC3D_PLUGIN_ROOTS ?? '').split(',').filter(Boolean),
    backbone: env.ANYMC3D_BACKBONE ?? '',
    ...(env.ANYMC3D_REDIS_URL ? { redis: env.ANYMC3D_REDIS_URL } : {}),
    plugins: [],
  };
}

/** Plain HTTP on an address other machines reach carries tokens and patient data in the clear. */
export function checkTransport(config: ServerConfig): void {
  if (!config.tls && !LOOPBACK.has(config.host) && !config.insecureHttp) {
    throw new Error(
      `--host ${config.host} over plain HTTP would send tokens and patient data in the clear: give --tls-cert and --tls-key, or --insecure-http behind a TLS proxy`,
    );
  }
}

/** Flag → the environment variable it overrides (flags win; tokens stay in the environment only). */
const FLAGS: Record<string, { env: string; describe: string; type: 'string' | 'number' | 'boolean' }> = {
  host: { env: 'ANYMC3D_HOST', describe: 'Address to bind (default 127.0.0.1)', type: 'string' },
  redis: {
    env: 'ANYMC3D_REDIS_URL',
    describe: 'Send analyses to `anymc3d-server worker`s through this Redis (the data folder on shared storage)',
    type: 'string',
  },
  port: { env: 'ANYMC3D_PORT', describe: 'Port (default 8080; 0 = any free)', type: 'number' },
  concurrency: { env: 'ANYMC3D_CONCURRENCY', describe: 'Inference jobs at once (default 1)', type: 'number' },
  'max-upload-mb': { env: 'ANYMC3D_MAX_UPLOAD_MB', describe: 'Largest upload in MiB (default 1024)', type: 'number' },
  'max-voxels': {
    env: 'ANYMC3D_MAX_VOXELS',
    describe: 'Largest volume in voxels, from its header (default 1024³)',
    type: 'number',
  },
  'max-volume-mb': {
    env: 'ANYMC3D_MAX_VOLUME_MB',
    describe: 'Largest volume in MiB once inflated, from its header (default 4096)',
    type: 'number',
  },
  'max-attempts': {
    env: 'ANYMC3D_MAX_ATTEMPTS',
    describe: 'Starts of a job before it fails for good (default 3)',
    type: 'number',
  },
  'max-queue': {
    env: 'ANYMC3D_MAX_QUEUE',
    describe: 'Waiting jobs beyond which uploads get 503 (default 100)',
    type: 'number',
  },
  'max-cases': {
    env: 'ANYMC3D_MAX_CASES',
    describe: 'Stored cases beyond which uploads get 507 (default: no limit)',
    type: 'number',
  },
  'max-disk-gb': {
    env: 'ANYMC3D_MAX_DISK_GB',
    describe: 'GiB under --data beyond which uploads get 507 (default: no limit)',
    type: 'number',
  },
  'retain-days': {
    env: 'ANYMC3D_RETAIN_DAYS',
    describe: 'Delete the files of finished cases older than this (default: keep)',
    type: 'number',
  },
  'max-connections': {
    env: 'ANYMC3D_MAX_CONNECTIONS',
    describe: 'Open connections at once (default 256)',
    type: 'number',
  },
  'headers-timeout-s': {
    env: 'ANYMC3D_HEADERS_TIMEOUT_S',
    describe: 'Seconds a client has to send its headers (default 30)',
    type: 'number',
  },
  'tls-cert': { env: 'ANYMC3D_TLS_CERT', describe: 'PEM certificate: serve HTTPS', type: 'string' },
  'tls-key': { env: 'ANYMC3D_TLS_KEY', describe: 'PEM private key of --tls-cert', type: 'string' },
  'insecure-http': {
    env: 'ANYMC3D_INSECURE_HTTP',
    describe: 'Allow plain HTTP on a non-loopback --host (behind a TLS-terminating proxy)',
    type: 'boolean',
  },
};

export const USAGE =
  'usage: anymc3d-server --data DIR --backbone NAME [--plugin DIR ...] [--plugin-root DIR ...] [--host 127.0.0.1] ' +
  '[--port 8080] [--tls-cert PEM --tls-key PEM | --insecure-http] [--max-upload-mb 1024] [--max-voxels N] ' +
  '[--max-volume-mb 4096] [--max-queue 100] [--max-cases N] [--max-disk-gb G] [--retain-days D] [--max-attempts 3] ' +
  '[--concurrency 1] [--cors ORIGIN ...] [--redis URL]; `anymc3d-server worker --redis URL --backbone NAME [--threads T]` runs analyses for it; tokens: ANYMC3D_TOKENS="token:role:name,…" (role reviewer|admin, token ≥ 32 characters)';

/** The command line (yargs, strict) over the environment: flags win. */
export function configFromArgs(argv: string[], env: NodeJS.ProcessEnv): ServerConfig {
  let parsed: Record<string, unknown>;
  try {
    let y = yargs(argv)
      .scriptName('anymc3d-server')
      .usage(USAGE)
      .option('data', { type: 'string', describe: 'Data folder (database and case files)' })
      .option('backbone', { type: 'string', describe: 'Backbone registry name or folder' })
      .option('plugin', { type: 'string', array: true, describe: 'Plugin folder to load (repeat)' })
      .option('plugin-root', {
        type: 'string',
        array: true,
        describe: 'Folder POST /v1/plugins may load from (repeat)',
      })
      .option('cors', { type: 'string', array: true, describe: 'Allowed browser origin (repeat)' });
    for (const [name, f] of Object.entries(FLAGS)) y = y.option(name, { type: f.type, describe: f.describe });
    parsed = y
      .strict()
      .help(false)
      .version(false)
      .exitProcess(false)
      .fail((message: string) => {
        throw new Error(message);
      })
      .parseSync() as Record<string, unknown>;
  } catch (error) {
    throw new InputError('anymc3d-server', `${(error as Error).message}; ${USAGE}`);
  }
  const dataDir = (parsed.data as string | undefined) ?? env.ANYMC3D_DATA;
  if (!dataDir) throw new InputError('anymc3d-server', `--data DIR is required; ${USAGE}`);
  const merged: NodeJS.ProcessEnv = { ...env };
  for (const [name, f] of Object.entries(FLAGS)) {
    const value = parsed[name];
    if (value !== undefined) merged[f.env] = String(value);
  }
  let config: ServerConfig;
  try {
    config = configFromEnv(merged, dataDir);
    checkTransport(config);
  } catch (error) {
    throw new InputError('anymc3d-server', (error as Error).message);
  }
  config.backbone = (parsed.backbone as string | undefined) ?? config.backbone;
  if (!config.backbone) throw new InputError('anymc3d-server', `--backbone NAME is required; ${USAGE}`);
  config.plugins = (parsed.plugin as string[] | undefined) ?? [];
  config.pluginRoots = [...config.pluginRoots, ...((parsed['plugin-root'] as string[] | undefined) ?? [])];
  config.corsOrigins = [...config.corsOrigins, ...((parsed.cors as string[] | undefined) ?? [])];
  return config;
}
