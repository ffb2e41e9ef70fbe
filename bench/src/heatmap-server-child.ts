import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromEnv, createServer } from '@anymc3d/heatmap-server';
import { SyntheticAnalyzer, syntheticVolume } from '@anymc3d/heatmap-server/testing';

/**
 * One side of the heatmap-server load benchmark, in its own process so its memory is its own:
 * `subject` starts the real server (with the synthetic test analyzer: the benchmark measures
 * serving, not inference) and finishes one case; `peer` serves the same two files' bytes from
 * memory with bare node:http (the floor for HTTP on this machine). Prints one JSON line.
 */
const mode = process.argv[2];
const TOKEN = 'bench-token-0123456789abcdef0123456789';
const BACKBONE = { name: 'synthetic', hash: 'sha256:bench' };

async function subject(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'anymc3d-bench-'));
  const config = { ...configFromEnv({ ANYMC3D_TOKENS: `${TOKEN}:reviewer`, ANYMC3D_PORT: '0' }, dataDir) };
  const analyzer = new SyntheticAnalyzer(BACKBONE, [
    { id: 'chest', task: 'chest', labels: ['Pleural effusion'], backbone: BACKBONE, frozenBackbone: true },
  ]);
  const server = await createServer({ config, analyzer, log: () => {} });
  const url = await server.listen();
  const headers = { Authorization: `Bearer ${TOKEN}` };
  const created = await fetch(`${url}/v1/cases`, {
    method: 'POST',
    headers,
    body: await syntheticVolume([128, 128, 48]),
  });
  const { id } = (await created.json()) as { id: string };
  await server.app.queue.idle();
  const png = `/v1/cases/${id}/heatmaps/chest/pleural-effusion/slices/axial/24.png`;
  const nifti = `/v1/cases/${id}/heatmaps/chest/pleural-effusion.nii.gz`;
  const sizes = await Promise.all(
    [png, nifti].map(async (p) => (await (await fetch(`${url}${p}`, { headers })).arrayBuffer()).byteLength),
  );
  process.stdout.write(`${JSON.stringify({ url, token: TOKEN, png, nifti, sizes })}\n`);
  process.once('SIGTERM', () => {
    server.close().then(() => rm(dataDir, { recursive: true, force: true }).then(() => process.exit(0)));
  });
}

async function peerServer(): Promise<void> {
  // The peer fetches the subject's two files once, then serves those bytes from memory.
  const source = JSON.parse(process.argv[3] ?? '{}') as { url: string; token: string; png: string; nifti: string };
  const headers = { Authorization: `Bearer ${source.token}` };
  const files: Record<string, { body: Buffer; type: string }> = {};
  for (const [path, type] of [
    [source.png, 'image/png'],
    [source.nifti, 'application/gzip'],
  ] as const) {
    files[path] = { body: Buffer.from(await (await fetch(`${source.url}${path}`, { headers })).arrayBuffer()), type };
  }
  const server = createHttpServer((req, res) => {
    const file = files[req.url ?? ''];
    if (!file) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length });
    res.end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`);
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

if (mode === 'subject') await subject();
else if (mode === 'peer') await peerServer();
else throw new Error('usage: heatmap-server-child.js subject | peer <json>');
