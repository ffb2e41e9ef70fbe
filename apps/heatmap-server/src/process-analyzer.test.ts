import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configFromEnv } from './config.js';
import { ProcessAnalyzer } from './process-analyzer.js';
import { createServer, type HeatmapServer } from './server.js';
import { ADMIN, auth, PLUGINS, REVIEWER, waitForCase } from './test-server.test-helpers.js';
import { syntheticVolume } from './testing/synthetic-volume.js';

const CRASHING = new URL('../dist/testing/crashing-analyzer.js', import.meta.url).href;

let server: HeatmapServer | undefined;
let analyzer: ProcessAnalyzer | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  server = analyzer = dataDir = undefined;
});

describe('analysis in a process of its own', () => {
  it('a job that kills its analysis process fails after 3 attempts; the server and the next job go on', async () => {
    analyzer = await ProcessAnalyzer.create({
      module: CRASHING,
      options: { backbone: 'synthetic-vit', pluginInfos: PLUGINS },
    });
    dataDir = await mkdtemp(join(tmpdir(), 'anymc3d-process-'));
    const config = configFromEnv({ ANYMC3D_TOKENS: `${ADMIN}:admin,${REVIEWER}:reviewer`, ANYMC3D_PORT: '0' }, dataDir);
    server = await createServer({ config, analyzer, log: () => undefined });
    const url = await server.listen();
    const post = async (name: string) =>
      fetch(`${url}/v1/cases?name=${name}`, {
        method: 'POST',
        headers: auth(REVIEWER, { 'Content-Type': 'application/octet-stream' }),
        body: await syntheticVolume([12, 10, 6]),
      }).then((r) => r.json() as Promise<{ id: string }>);
    const poison = await post('poison.nii.gz');
    const failed = (await waitForCase(url, poison.id)) as { status: string; attempts: number; error: string };
    expect(failed).toMatchObject({ status: 'failed', attempts: 3 });
    expect(failed.error).toMatch(
      /the analysis process ended \(signal SIGKILL\) while analysing this case \(after 3 attempt\(s\)\)/,
    );
    expect(analyzer.starts).toBe(3); // each attempt had a fresh process; the next starts when a job needs it
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const fine = await post('chest.nii.gz');
    const done = (await waitForCase(url, fine.id)) as { status: string; predictions: Record<string, unknown> };
    expect(done.status).toBe('done');
    expect(Object.keys(done.predictions)).toEqual(PLUGINS.map((p) => p.id));
    expect(analyzer.starts).toBe(4);
  }, 60_000);
});
