import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import { Retention } from './retention.js';
import { ADMIN, auth, REVIEWER, startTestServer, type TestServer, waitForCase } from './test-server.test-helpers.js';
import { syntheticVolume } from './testing/synthetic-volume.js';

/**
 * The server as a hostile client, a crashing job, a full disk and a second server meet it: every
 * refusal is an HTTP answer with a message, and the server goes on answering.
 */
let current: TestServer | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

const upload = (t: TestServer, body: Uint8Array, token = REVIEWER, query = '') =>
  fetch(`${t.url}/v1/cases${query}`, {
    method: 'POST',
    headers: auth(token, { 'Content-Type': 'application/octet-stream' }),
    body,
  });

/** A NIfTI-1 header declaring `dims` int16 voxels, followed by `data` (gzipped as a whole). */
function niftiGz(dims: [number, number, number], dataBytes: number): Uint8Array {
  const header = Buffer.alloc(352);
  header.writeInt32LE(348, 0);
  header.writeInt16LE(3, 40);
  for (const [k, d] of dims.entries()) header.writeInt16LE(d, 42 + 2 * k);
  header.writeInt16LE(4, 70); // int16
  header.writeInt16LE(16, 72);
  for (const k of [1, 2, 3]) header.writeFloatLE(1, 76 + 4 * k); // pixdim: 1 mm voxels
  header.writeFloatLE(352, 108);
  header.write('n+1\0', 344, 'latin1');
  return gzipSync(Buffer.concat([header, Buffer.alloc(dataBytes)]), { level: 9 });
}

describe('bounded work per upload', () => {
  it('refuses a header that declares 4096³ voxels before inflating anything, and a gzip that inflates past its header', async () => {
    current = await startTestServer();
    const bomb = niftiGz([4096, 4096, 4096], 64 << 20);
    expect(bomb.length).toBeLessThan(2 << 20);
    // A small declared volume (64³ int16 = 512 KiB) whose stream holds 256 MiB of zeros.
    const lie = niftiGz([64, 64, 64], 256 << 20);
    // The server runs in this process: its growth is measured after the test made its bombs.
    const rssBefore = process.memoryUsage().rss;
    const big = await upload(current, bomb);
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { message: string } }).error.message).toMatch(
      /declares 4096×4096×4096 = 68719476736 voxels/,
    );
    const liar = await upload(current, lie);
    expect(liar.status).toBe(422);
    expect(((await liar.json()) as { error: { code: string } }).error.code).toBe('inflates_beyond_header');
    // Inflation stopped at the declared size (plus 1 MiB): the process did not grow by the bomb.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(128 << 20);
    expect((await fetch(`${current.url}/healthz`)).status).toBe(200);
    const truncated = await upload(current, niftiGz([64, 64, 64], 1000));
    expect(truncated.status).toBe(422);
  });

  it('refuses a zipped DICOM series at upload (415), which the server cannot read', async () => {
    current = await startTestServer();
    const dicom = Buffer.alloc(200);
    dicom.write('DICM', 128, 'latin1');
    const zipped = await upload(current, zipSync({ 'series/IM0001.dcm': dicom }, { level: 0 }));
    expect(zipped.status).toBe(415);
    expect(((await zipped.json()) as { error: { message: string } }).error.message).toMatch(/convert it to NIfTI/);
  });
});

describe('jobs', () => {
  it('a job the process dies in is failed after 3 attempts across restarts; an admin can retry it', async () => {
    const hang = { beforeAnalyze: () => new Promise<void>(() => undefined) };
    current = await startTestServer({}, hang);
    const { id } = (await (await upload(current, await syntheticVolume([8, 8, 4]))).json()) as { id: string };
    const attemptsOf = async () =>
      (await (await fetch(`${current!.url}/v1/cases/${id}`, { headers: auth(REVIEWER) })).json()) as {
        status: string;
        attempts: number;
        error: string | null;
      };
    await expect.poll(async () => (await attemptsOf()).attempts).toBe(1);
    for (const attempt of [2, 3]) {
      current = await current.restart(hang);
      await expect.poll(async () => (await attemptsOf()).attempts).toBe(attempt);
    }
    current = await current.restart(hang);
    const failed = await attemptsOf();
    expect(failed).toMatchObject({ status: 'failed', attempts: 3 });
    expect(failed.error).toMatch(/failed after 3 attempt\(s\)/);
    const denied = await fetch(`${current.url}/v1/cases/${id}/retry`, { method: 'POST', headers: auth(REVIEWER) });
    expect(denied.status).toBe(403);
    current = await current.restart();
    const retried = await fetch(`${current.url}/v1/cases/${id}/retry`, { method: 'POST', headers: auth(ADMIN) });
    expect(retried.status).toBe(202);
    expect(((await waitForCase(current.url, id)) as { status: string }).status).toBe('done');
    const again = await fetch(`${current.url}/v1/cases/${id}/retry`, { method: 'POST', headers: auth(ADMIN) });
    expect(again.status).toBe(409);
  });
});

describe('resources', () => {
  it('a full queue answers 503 with Retry-After; the case and disk quotas 507', async () => {
    current = await startTestServer({ maxQueue: 1 }, { beforeAnalyze: () => new Promise<void>(() => undefined) });
    expect((await upload(current, await syntheticVolume([8, 8, 4]))).status).toBe(202); // running
    expect((await upload(current, await syntheticVolume([8, 8, 4]))).status).toBe(202); // waiting
    const full = await upload(current, await syntheticVolume([8, 8, 4]));
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('60');
    await current.close();
    current = await startTestServer({ maxCases: 1 });
    expect((await upload(current, await syntheticVolume([8, 8, 4]))).status).toBe(202);
    const cases = await upload(current, await syntheticVolume([8, 8, 4]));
    expect(cases.status).toBe(507);
    expect(((await cases.json()) as { error: { code: string } }).error.code).toBe('case_quota');
    await current.close();
    current = await startTestServer({ maxDiskBytes: 1 });
    const disk = await upload(current, await syntheticVolume([8, 8, 4]));
    expect(disk.status).toBe(507);
    expect(((await disk.json()) as { error: { message: string } }).error.message).toMatch(/its limit is 0\.00 GiB/);
  });

  it('retention deletes the files of old finished cases, keeps the row, answers 410 and records it', async () => {
    current = await startTestServer({ retainDays: 7 });
    const { id } = (await (await upload(current, await syntheticVolume([8, 8, 4]))).json()) as { id: string };
    await waitForCase(current.url, id);
    const caseDir = join(current.dataDir, 'cases', id);
    expect(existsSync(caseDir)).toBe(true);
    const sweep = new Retention(current.server.app);
    expect(await sweep.sweep()).toEqual([]); // not old yet
    expect(await sweep.sweep(Date.now() + 8 * 86_400_000)).toEqual([id]);
    expect(existsSync(caseDir)).toBe(false);
    const image = await fetch(`${current.url}/v1/cases/${id}/image.nii.gz`, { headers: auth(REVIEWER) });
    expect(image.status).toBe(410);
    const body = (await (await fetch(`${current.url}/v1/cases/${id}`, { headers: auth(REVIEWER) })).json()) as {
      purgedAt: string | null;
    };
    expect(body.purgedAt).toMatch(/^\d{4}-/);
    const trail = (await (await fetch(`${current.url}/v1/audit?case=${id}`, { headers: auth(ADMIN) })).json()) as {
      entries: { action: string; user: string }[];
    };
    expect(trail.entries.find((e) => e.action === 'purge')).toMatchObject({ user: 'server' });
  });

  it('validates query parameters (400 with a message, not 500)', async () => {
    current = await startTestServer();
    for (const q of ['limit=1.5', 'limit=0', 'limit=abc', 'offset=-1']) {
      const r = await fetch(`${current.url}/v1/cases?${q}`, { headers: auth(REVIEWER) });
      expect(r.status, q).toBe(400);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/must be a whole number/);
    }
  });

  it('cuts off a client that stalls before its headers are complete', async () => {
    current = await startTestServer({ headersTimeoutMs: 500 });
    const { port } = new URL(current.url);
    const started = Date.now();
    const closed = await new Promise<number>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve(Date.now() - started));
      socket.on('error', () => undefined);
    });
    expect(closed).toBeLessThan(5_000);
    expect((await fetch(`${current.url}/healthz`)).status).toBe(200);
  });
});

describe('people and storage', () => {
  it('records uploads, views and reviews with the authenticated user; only an admin reads the trail', async () => {
    current = await startTestServer();
    const { id } = (await (
      await upload(current, await syntheticVolume([8, 8, 4]), REVIEWER, '?plugins=nodule')
    ).json()) as {
      id: string;
    };
    await waitForCase(current.url, id);
    const viewed = await fetch(`${current.url}/v1/cases/${id}`, { headers: auth(REVIEWER) });
    expect(viewed.headers.get('cache-control')).toBe('no-store');
    const posted = await fetch(`${current.url}/v1/cases/${id}/reviews`, {
      method: 'POST',
      headers: auth(REVIEWER, { 'Content-Type': 'application/json' }),
      body: JSON.stringify({ verdicts: [{ plugin: 'nodule', label: 'Lung nodule', verdict: 'agree' }] }),
    });
    expect(((await posted.json()) as { reviewer: string }).reviewer).toBe('Dr. Browser');
    expect((await fetch(`${current.url}/v1/audit`, { headers: auth(REVIEWER) })).status).toBe(403);
    const trail = (await (await fetch(`${current.url}/v1/audit?case=${id}`, { headers: auth(ADMIN) })).json()) as {
      entries: { action: string; user: string; role: string; caseId: string }[];
    };
    const actions = trail.entries.map((e) => `${e.action}:${e.user}`).reverse();
    expect(actions.slice(0, 1)).toEqual(['upload:Dr. Browser']);
    expect(actions).toContain('view:Dr. Browser');
    expect(actions).toContain('review:Dr. Browser');
    const me = (await (await fetch(`${current.url}/v1/me`, { headers: auth(ADMIN) })).json()) as { name: string };
    expect(me.name).toBe('Ada Admin');
  });

  it('slows repeated failed authentications from one address (429 with Retry-After)', async () => {
    current = await startTestServer();
    for (let k = 0; k < 10; k++) {
      const r = await fetch(`${current.url}/v1/cases`, { headers: auth(`wrong-${k}-${'x'.repeat(32)}`) });
      expect(r.status).toBe(401);
    }
    const slowed = await fetch(`${current.url}/v1/cases`, { headers: auth(REVIEWER) });
    expect(slowed.status).toBe(429);
    expect(Number(slowed.headers.get('retry-after'))).toBeGreaterThan(0);
    // The public health check is not an API call and still answers.
    expect((await fetch(`${current.url}/healthz`)).status).toBe(200);
  });

  it('a second server on the same data folder refuses to start', async () => {
    current = await startTestServer();
    const second = startTestServer({}, {}, current.dataDir);
    await expect(second).rejects.toThrow(/another anymc3d-server \(pid \d+\) is using this data folder/);
  });

  it('serves HTTPS with a certificate and key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-tls-'));
    try {
      const cert = join(dir, 'cert.pem');
      const key = join(dir, 'key.pem');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      current = await startTestServer({ tls: { cert, key } });
      expect(current.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${current!.url}/healthz`, { ca: readFileSync(cert) }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
