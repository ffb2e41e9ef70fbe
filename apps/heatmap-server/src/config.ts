export type Role = 'reviewer' | 'admin';

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** Bearer token → role. Empty means every API route answers 401. */
  tokens: Map<string, Role>;
  corsOrigins: string[];
  maxUploadBytes: number;
  concurrency: number;
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
  return {
    host: env.ANYMC3D_HOST ?? '127.0.0.1',
    port,
    dataDir,
    tokens,
    corsOrigins: (env.ANYMC3D_CORS_ORIGINS ?? '').split(',').filter(Boolean),
    maxUploadBytes: Number(env.ANYMC3D_MAX_UPLOAD_MB ?? 1024) * 1024 * 1024,
    concurrency: Number(env.ANYMC3D_CONCURRENCY ?? 1),
  };
}
