import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ADMIN,
  auth,
  BACKBONE,
  REVIEWER,
  startTestServer,
  type TestServer,
  waitForCase,
} from './test-server.test-helpers.js';
import { servedVolume } from './testing/served-volume.js';
import { syntheticVolume } from './testing/synthetic-volume.js';

let current: TestServer | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

async function upload(t: TestServer, body: Uint8Array, query = '') {
  return fetch(`${t.url}/v1/cases${query}`, {
    method: 'POST',
    headers: auth(REVIEWER, { 'Content-Type': 'application/octet-stream' }),
    body,
  });
}

interface CaseBody {
  id: string;
  status: string;
  progress: number;
  error: string | null;
  imageUrl: string;
  predictions: Record<string, { labels: { label: string; slug: string; probability: number; heatmapUrl: string }[] }>;
  reviews: { reviewer: string; comment: string; verdicts: { label: string; verdict: string }[] }[];
}

describe('heatmap server API (real listener)', () => {
  it('takes a NIfTI upload, runs it in the background and serves predictions, NIfTI and PNG', async () => {
    current = await startTestServer();
    const t = current;
    const volume = await syntheticVolume([24, 20, 12]);
    const created = await upload(t, volume, '?plugins=chest-effusion,nodule&name=chest%20ct.nii.gz');
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(created.headers.get('location')).toBe(`/v1/cases/${id}`);

    const done = (await waitForCase(t.url, id)) as unknown as CaseBody;
    expect(done.status).toBe('done');
    expect(done.progress).toBe(1);
    const labels = done.predictions['chest-effusion']?.labels.map((l) => l.label);
    expect(labels).toEqual(['Pleural effusion', 'Cardiomegaly']);
    expect(done.predictions.nodule?.labels[0]?.probability).toBeGreaterThanOrEqual(0);

    // The image and every heatmap come back as .nii.gz on one grid, with the input's affine.
    const image = await fetch(`${t.url}${done.imageUrl}`, { headers: auth(REVIEWER) });
    expect(image.headers.get('content-type')).toBe('application/gzip');
    expect(image.headers.get('content-encoding')).toBeNull();
    const imageVolume = await servedVolume(new Uint8Array(await image.arrayBuffer()));
    const inputVolume = await servedVolume(volume);
    expect(imageVolume.size).toEqual([24, 20, 12]);
    expect(imageVolume.affine).toEqual(inputVolume.affine);
    const heatUrl = done.predictions['chest-effusion']?.labels[0]?.heatmapUrl as string;
    expect(heatUrl).toBe(`/v1/cases/${id}/heatmaps/chest-effusion/pleural-effusion.nii.gz`);
    const heat = await fetch(`${t.url}${heatUrl}`, { headers: auth(REVIEWER) });
    expect(heat.status).toBe(200);
    const heatVolume = await servedVolume(new Uint8Array(await heat.arrayBuffer()));
    expect(heatVolume.size).toEqual(imageVolume.size);
    expect(heatVolume.affine).toEqual(imageVolume.affine);
    // The label itself (URL-encoded) names the same file as its slug.
    const byLabel = await fetch(`${t.url}/v1/cases/${id}/heatmaps/chest-effusion/Pleural%20effusion.nii.gz`, {
      headers: auth(REVIEWER),
    });
    expect(Buffer.from(await byLabel.arrayBuffer()).equals(Buffer.from(await heatBytes(t, heatUrl)))).toBe(true);

    // A slice PNG: the axial plane of a RAS volume is nx × ny; the overlay changes pixels.
    const plain = await fetch(`${t.url}/v1/cases/${id}/slices/axial/6.png`, { headers: auth(REVIEWER) });
    expect(plain.headers.get('content-type')).toBe('image/png');
    const plainPng = PNG.sync.read(Buffer.from(await plain.arrayBuffer()));
    expect([plainPng.width, plainPng.height]).toEqual([24, 20]);
    const over = await fetch(`${t.url}/v1/cases/${id}/heatmaps/chest-effusion/pleural-effusion/slices/axial/6.png`, {
      headers: auth(REVIEWER),
    });
    const overPng = PNG.sync.read(Buffer.from(await over.arrayBuffer()));
    expect(Buffer.compare(plainPng.data, overPng.data)).not.toBe(0);
    const coronal = PNG.sync.read(
      Buffer.from(
        await (await fetch(`${t.url}/v1/cases/${id}/slices/coronal/3.png`, { headers: auth(REVIEWER) })).arrayBuffer(),
      ),
    );
    expect([coronal.width, coronal.height]).toEqual([24, 12]);
    const beyond = await fetch(`${t.url}/v1/cases/${id}/slices/axial/12.png`, { headers: auth(REVIEWER) });
    expect(beyond.status).toBe(404);
    // Conditional GET
    const etag = over.headers.get('etag') as string;
    const again = await fetch(`${t.url}/v1/cases/${id}/heatmaps/chest-effusion/pleural-effusion/slices/axial/6.png`, {
      headers: auth(REVIEWER, { 'If-None-Match': etag }),
    });
    expect(again.status).toBe(304);

    const list = (await (await fetch(`${t.url}/v1/cases`, { headers: auth(REVIEWER) })).json()) as {
      total: number;
      cases: { id: string; originalName: string }[];
    };
    expect(list.total).toBe(1);
    expect(list.cases[0]).toMatchObject({ id, originalName: 'chest ct.nii.gz' });
  });

  it('stores reviews, which survive a restart', async () => {
    current = await startTestServer();
    const created = await upload(current, await syntheticVolume([16, 16, 8]), '?plugins=nodule');
    const { id } = (await created.json()) as { id: string };
    await waitForCase(current.url, id);
    const review = {
      comment: 'blob sits on the sphere',
      verdicts: [{ plugin: 'nodule', label: 'Lung nodule', verdict: 'disagree' }],
    };
    const posted = await fetch(`${current.url}/v1/cases/${id}/reviews`, {
      method: 'POST',
      headers: auth(REVIEWER, { 'Content-Type': 'application/json' }),
      body: JSON.stringify(review),
    });
    expect(posted.status).toBe(201);
    const wrongLabel = await fetch(`${current.url}/v1/cases/${id}/reviews`, {
      method: 'POST',
      headers: auth(REVIEWER, { 'Content-Type': 'application/json' }),
      body: JSON.stringify({ ...review, verdicts: [{ plugin: 'nodule', label: 'Nope', verdict: 'agree' }] }),
    });
    expect(wrongLabel.status).toBe(422);
    // A review is signed by the token's user: another name in the body is refused.
    const forged = await fetch(`${current.url}/v1/cases/${id}/reviews`, {
      method: 'POST',
      headers: auth(REVIEWER, { 'Content-Type': 'application/json' }),
      body: JSON.stringify({ ...review, reviewer: 'Dr. Someone Else' }),
    });
    expect(forged.status).toBe(422);

    current = await current.restart();
    const after = (await (
      await fetch(`${current.url}/v1/cases/${id}`, { headers: auth(REVIEWER) })
    ).json()) as CaseBody;
    expect(after.status).toBe('done');
    expect(after.reviews).toHaveLength(1);
    expect(after.reviews[0]).toMatchObject({ reviewer: 'Dr. Browser', comment: review.comment });
    expect(after.reviews[0]?.verdicts).toEqual([{ pluginId: 'nodule', label: 'Lung nodule', verdict: 'disagree' }]);
  });

  it('re-queues a job that a restart interrupted, and runs jobs one at a time by default', async () => {
    let release: () => void = () => {};
    const started: string[] = [];
    current = await startTestServer(
      {},
      {
        beforeAnalyze: async (r) => {
          started.push(r.volumePath);
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        },
      },
    );
    const a = (await (await upload(current, await syntheticVolume([12, 12, 6]))).json()) as { id: string };
    const b = (await (await upload(current, await syntheticVolume([12, 12, 6]))).json()) as { id: string };
    await new Promise((r) => setTimeout(r, 100));
    expect(started).toHaveLength(1); // concurrency 1: the second waits
    const running = (await (await fetch(`${current.url}/v1/cases/${a.id}`, { headers: auth(REVIEWER) })).json()) as {
      status: string;
    };
    expect(running.status).toBe('running');
    const metrics = await (await fetch(`${current.url}/metrics`, { headers: auth(REVIEWER) })).text();
    expect(metrics).toMatch(/^anymc3d_queue_length 1$/m);
    expect(metrics).toMatch(/^anymc3d_jobs_running 1$/m);

    current = await current.restart();
    release();
    const doneA = await waitForCase(current.url, a.id);
    const doneB = await waitForCase(current.url, b.id);
    expect(doneA).toMatchObject({ status: 'done', attempts: 2 });
    expect(doneB).toMatchObject({ status: 'done', attempts: 1 });
    const after = await (await fetch(`${current.url}/metrics`, { headers: auth(REVIEWER) })).text();
    expect(after).toMatch(/^anymc3d_inference_seconds_count\{outcome="done"\} 2$/m);
    expect(after).toMatch(/anymc3d_http_requests_total\{method="GET",route="\/v1\/cases\/:id",status="200"\} \d+/);
  });

  it('marks a case failed with the analyzer’s message when it cannot read the volume', async () => {
    current = await startTestServer();
    const header = 'NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n\n';
    const nrrd = Buffer.concat([Buffer.from(header), Buffer.alloc(16)]);
    const created = await upload(current, nrrd);
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const failed = (await waitForCase(current.url, id)) as unknown as CaseBody;
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/^input\.nrrd: the synthetic analyzer reads NIfTI only, not nrrd/);
    const image = await fetch(`${current.url}/v1/cases/${id}/image.nii.gz`, { headers: auth(REVIEWER) });
    expect(image.status).toBe(409);
  });

  it('loads a plugin folder at run time (admin), refuses a backbone hash mismatch, and keeps it after a restart', async () => {
    const root2 = await mkdtemp(join(tmpdir(), 'anymc3d-plugins-'));
    current = await startTestServer({ pluginRoots: [root2] });
    await mkdir(join(root2, 'fracture'), { recursive: true });
    await mkdir(join(root2, 'other-backbone'), { recursive: true });
    const card = {
      id: 'fracture',
      task: 'fracture',
      labels: ['Rib fracture'],
      backbone: BACKBONE,
      frozenBackbone: true,
    };
    await writeFile(join(root2, 'fracture', 'plugin.json'), JSON.stringify(card));
    await writeFile(
      join(root2, 'other-backbone', 'plugin.json'),
      JSON.stringify({ ...card, id: 'x', backbone: { name: 'other', hash: 'sha256:bbbb' } }),
    );
    const post = (path: string) =>
      fetch(`${current?.url}/v1/plugins`, {
        method: 'POST',
        headers: auth(ADMIN, { 'Content-Type': 'application/json' }),
        body: JSON.stringify({ path }),
      });
    const loaded = await post('fracture');
    expect(loaded.status).toBe(201);
    const mismatch = await post('other-backbone');
    expect(mismatch.status).toBe(422);
    expect(((await mismatch.json()) as { error: { message: string } }).error.message).toMatch(/sha256:bbbb/);
    const plugins = (await (await fetch(`${current.url}/v1/plugins`, { headers: auth(REVIEWER) })).json()) as {
      plugins: { id: string }[];
    };
    expect(plugins.plugins.map((p) => p.id)).toEqual(['chest-effusion', 'nodule', 'fracture']);

    current = await current.restart();
    const afterRestart = (await (await fetch(`${current.url}/v1/plugins`, { headers: auth(REVIEWER) })).json()) as {
      plugins: { id: string }[];
    };
    expect(afterRestart.plugins.map((p) => p.id)).toContain('fracture');
    const created = await upload(current, await syntheticVolume([10, 10, 5]), '?plugins=fracture');
    const done = (await waitForCase(current.url, ((await created.json()) as { id: string }).id)) as unknown as CaseBody;
    expect(done.predictions.fracture?.labels[0]?.label).toBe('Rib fracture');
  });

  it('accepts every one of many small uploads (the last write is on disk before the sniff)', async () => {
    current = await startTestServer();
    const body = await syntheticVolume([16, 16, 8]);
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await upload(current, body, '?plugins=nodule');
      await r.arrayBuffer();
      statuses.push(r.status);
    }
    expect(statuses.filter((s) => s !== 202)).toEqual([]);
  });

  it('answers /healthz without a token', async () => {
    current = await startTestServer();
    const health = await fetch(`${current.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', queued: 0, running: 0 });
  });
});

async function heatBytes(t: TestServer, path: string): Promise<ArrayBuffer> {
  return (await fetch(`${t.url}${path}`, { headers: auth(REVIEWER) })).arrayBuffer();
}
