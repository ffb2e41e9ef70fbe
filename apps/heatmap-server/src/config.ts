import { InputError } from '@anymc3d/core/util';

export type Role = 'reviewer' | 'admin';

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** Bearer token → role. Empty means every API route answers 401. */
  tokens: Map<string, Role>;
  corsOrigins: string[];
  maxUploadBytes: number;
  /** Inference jobs run at once; 1 on CPU, where one job already uses every core. */
  concurrency: number;
  /** Folders under which `POST /v1/plugins` may load a plugin (no other path is reachable). */
  pluginRoots: string[];
  /** The backbone the analyzer is started with (a registry name or folder). */
  backbone: string;
  /** Plugin folders loaded at start-up. */
  plugins: string[];
}

/**
 * Reads the server's settings from the environment. Binds loopback unless told otherwise:
 * a hospital server is opened on purpose, never by default.
 * ANYMC3D_TOKENS is a comma list of `token:role` pairs (role reviewer or admin).
 */
export function configFromEnv(env: NodeJS.ProcessEnv, dataDir: string): ServerConfig {
  const tokens = new Map<string, Role>();
  for (const pair of (env.ANYMC3D_TOKENS ?? '').split(',').filter(Boolean)) {
    const [token, role = 'reviewer'] = pair.split(':');
    if (!token) continue;
    if (role !== 'reviewer' && role !== 'admin') {
      throw new Error(`ANYMC3D_TOKENS: role "${role}" is not reviewer or admin`);
    }
    tokens.set(token, role);
  }
  const port = Number(env.ANYMC3D_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`ANYMC3D_PORT: "${env.ANYMC3D_PORT}" is not a port`);
  const uploadMb = Number(env.ANYMC3D_MAX_UPLOAD_MB ?? 1024);
  if (!(uploadMb > 0))
    throw new Error(`ANYMC3D_MAX_UPLOAD_MB: "${env.ANYMC3D_MAX_UPLOAD_MB}" is not a positive number`);
  const concurrency = Number(env.ANYMC3D_CONCURRENCY ?? 1);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`ANYMC3D_CONCURRENCY: "${env.ANYMC3D_CONCURRENCY}" is not a positive integer`);
  return {
    host: env.ANYMC3D_HOST ?? '127.0.0.1',
    port,
    dataDir,
    tokens,
    corsOrigins: (env.ANYMC3D_CORS_ORIGINS ?? '').split(',').filter(Boolean),
    maxUploadBytes: Math.round(uploadMb * 1024 * 1024),
    concurrency,
    pluginRoots: (env.ANYMC3D_PLUGIN_ROOTS ?? '').split(',').filter(Boolean),
    backbone: env.ANYMC3D_BACKBONE ?? '',
    plugins: [],
  };
}

export const USAGE =
  'usage: anymc3d-server --data DIR --backbone NAME [--plugin DIR ...] [--plugin-root DIR ...] ' +
  '[--host 127.0.0.1] [--port 8080] [--concurrency 1] [--max-upload-mb 1024] [--cors ORIGIN ...]';

/**
 * The command line over the environment: flags win. Tokens stay in the environment only
 * (ANYMC3D_TOKENS), so they never show in a process list.
 */
export function configFromArgs(argv: string[], env: NodeJS.ProcessEnv): ServerConfig {
  const values = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    if (flag === '-h' || flag === '--help') throw new InputError('anymc3d-server', USAGE);
    const value = argv[i + 1];
    if (!flag.startsWith('--') || value === undefined || value.startsWith('--'))
      throw new InputError('anymc3d-server', `"${flag}" needs a value; ${USAGE}`);
    const name = flag.slice(2);
    if (!KNOWN_FLAGS.has(name)) throw new InputError('anymc3d-server', `unknown flag "${flag}"; ${USAGE}`);
    values.set(name, [...(values.get(name) ?? []), value]);
    i++;
  }
  const last = (name: string) => values.get(name)?.at(-1);
  const dataDir = last('data') ?? env.ANYMC3D_DATA;
  if (!dataDir) throw new InputError('anymc3d-server', `--data DIR is required; ${USAGE}`);
  const merged: NodeJS.ProcessEnv = { ...env };
  if (last('host')) merged.ANYMC3D_HOST = last('host');
  if (last('port')) merged.ANYMC3D_PORT = last('port');
  if (last('concurrency')) merged.ANYMC3D_CONCURRENCY = last('concurrency');
  if (last('max-upload-mb')) merged.ANYMC3D_MAX_UPLOAD_MB = last('max-upload-mb');
  let config: ServerConfig;
  try {
    config = configFromEnv(merged, dataDir);
  } catch (error) {
    throw new InputError('anymc3d-server', (error as Error).message);
  }
  config.backbone = last('backbone') ?? config.backbone;
  if (!config.backbone) throw new InputError('anymc3d-server', `--backbone NAME is required; ${USAGE}`);
  config.plugins = values.get('plugin') ?? [];
  config.pluginRoots = [...config.pluginRoots, ...(values.get('plugin-root') ?? [])];
  config.corsOrigins = [...config.corsOrigins, ...(values.get('cors') ?? [])];
  return config;
}

const KNOWN_FLAGS = new Set([
  'data',
  'backbone',
  'plugin',
  'plugin-root',
  'host',
  'port',
  'concurrency',
  'max-upload-mb',
  'cors',
]);
