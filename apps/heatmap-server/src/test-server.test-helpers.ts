import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnalysisRequest, PluginInfo } from './analyzer.js';
import { configFromEnv, type ServerConfig } from './config.js';
import { createServer, type HeatmapServer } from './server.js';
import { SyntheticAnalyzer } from './testing/synthetic-analyzer.js';

export const BACKBONE = { name: 'synthetic-vit', hash: 'sha256:aaaa' };
export const ADMIN = 'admin-token-0123456789abcdef0123456789';
export const REVIEWER = 'reviewer-token-0123456789abcdef0123456789';

export const PLUGINS: PluginInfo[] = [
  {
    id: 'chest-effusion',
    task: 'effusion',
    labels: ['Pleural effusion', 'Cardiomegaly'],
    backbone: BACKBONE,
    frozenBackbone: true,
  },
  { id: 'nodule', task: 'nodule', labels: ['Lung nodule'], backbone: BACKBONE, frozenBackbone: false },
];

export interface TestServer {
  server: HeatmapServer;
  analyzer: SyntheticAnalyzer;
  url: string;
  dataDir: string;
  config: ServerConfig;
  /** Closes this server and starts a new one on the same data folder (a restart). */
  restart(hooks?: { beforeAnalyze?: (r: AnalysisRequest) => Promise<void> }): Promise<TestServer>;
  close(): Promise<void>;
}

export async function startTestServer(
  overrides: Partial<ServerConfig> = {},
  hooks: { beforeAnalyze?: (r: AnalysisRequest) => Promise<void> } = {},
  dataDir?: string,
): Promise<TestServer> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'anymc3d-server-')));
  const config: ServerConfig = {
    ...configFromEnv(
      { ANYMC3D_TOKENS: `${ADMIN}:admin:Ada Admin,${REVIEWER}:reviewer:Dr. Browser`, ANYMC3D_PORT: '0' },
      dir,
    ),
    ...overrides,
  };
  const analyzer = new SyntheticAnalyzer(BACKBONE, PLUGINS, hooks);
  const server = await createServer({
    config,
    analyzer,
    log: (m) => {
      if (process.env.SERVER_LOG) console.error(m);
    },
  });
  const url = await server.listen();
  const self: TestServer = {
    server,
    analyzer,
    url,
    dataDir: dir,
    config,
    async restart(nextHooks = {}) {
      await server.close();
      return startTestServer(overrides, nextHooks, dir);
    },
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return self;
}

export function auth(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { Authorization: `Bearer ${token}`, ...extra };
}

/** Polls a case until it leaves queued/running. */
export async function waitForCase(url: string, id: string, token = REVIEWER, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${url}/v1/cases/${id}`, { headers: auth(token) });
    const body = (await response.json()) as { status: string } & Record<string, unknown>;
    if (body.status !== 'queued' && body.status !== 'running') return body;
    if (Date.now() > deadline) throw new Error(`case ${id} still ${body.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
