import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, auth, REVIEWER, startTestServer, type TestServer, waitForCase } from './test-server.test-helpers.js';
import { syntheticVolume } from './testing/synthetic-volume.js';

const ALLOWED = 'http://viewer.example';
let t: TestServer;
let caseId: string;

beforeAll(async () => {
  t = await startTestServer({ maxUploadBytes: 64 * 1024, corsOrigins: [ALLOWED] });
  const created = await fetch(`${t.url}/v1/cases?plugins=nodule`, {
    method: 'POST',
    headers: auth(REVIEWER),
    body: await syntheticVolume([16, 16, 8]),
  });
  caseId = ((await created.json()) as { id: string }).id;
  await waitForCase(t.url, caseId);
});
afterAll(() => t.close());

/** A raw request, so paths are sent exactly as written (fetch would normalise `..`). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(t.url);
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('authentication and roles', () => {
  it.each([
    ['GET', '/v1/cases'],
    ['GET', '/v1/plugins'],
    ['POST', '/v1/cases'],
    ['GET', '/metrics'],
    ['GET', '/v1/no-such-route'],
  ])('%s %s without a token → 401', async (method, path) => {
    const r = await raw(method, path, {});
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('a wrong token → 401', async () => {
    const r = await raw('GET', `/v1/cases/${caseId}`, auth('reviewer-token-012345678X'));
    expect(r.status).toBe(401);
  });

  it('a reviewer loading a plugin → 403, an admin gets past the role check', async () => {
    const body = Buffer.from(JSON.stringify({ path: 'anything' }));
    const headers = { 'Content-Type': 'application/json' };
    const reviewer = await raw('POST', '/v1/plugins', auth(REVIEWER, headers), body);
    expect(reviewer.status).toBe(403);
    const admin = await raw('POST', '/v1/plugins', auth(ADMIN, headers), body);
    expect(admin.status).toBe(404); // no plugin roots configured: no folder is reachable
  });
});

describe('uploads', () => {
  it('an oversize upload → 413 (declared length)', async () => {
    const r = await raw('POST', '/v1/cases', auth(REVIEWER), Buffer.alloc(200 * 1024));
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'too_large' } });
  });

  it('an oversize chunked upload → 413 while streaming', async () => {
    const r = await new Promise<number>((resolve, reject) => {
      const url = new URL(t.url);
      const req = request(
        { host: url.hostname, port: url.port, method: 'POST', path: '/v1/cases', headers: auth(REVIEWER) },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write(Buffer.alloc(8 * 1024, 1));
      req.end();
    });
    expect(r).toBe(413);
  });

  it.each([
    ['a PDF named .nii.gz', Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n')],
    ['gzip of text', Buffer.from('1f8b0800000000000003cb48cdc9c95728cf2fca49e102002d3b08af0c000000', 'hex')],
    ['an empty body', Buffer.alloc(0)],
    ['a zip of a text file', zipOf('notes.txt', Buffer.alloc(300, 0x41))],
  ])('%s → 415', async (_name, body) => {
    const r = await raw('POST', '/v1/cases?name=scan.nii.gz', auth(REVIEWER), body);
    expect(r.status).toBe(415);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'not_a_volume' } });
  });

  it('an unknown plugin → 422', async () => {
    const r = await raw(
      'POST',
      '/v1/cases?plugins=nope',
      auth(REVIEWER),
      Buffer.from(await syntheticVolume([4, 4, 4])),
    );
    expect(r.status).toBe(422);
  });
});

describe('paths', () => {
  it.each([
    (_id: string) => '/v1/cases/..%2F..%2Fanymc3d.sqlite',
    (id: string) => `/v1/cases/${id}/../../anymc3d.sqlite`,
    (id: string) => `/v1/cases/${id}/heatmaps/..%2F..%2F/x.nii.gz`,
    (id: string) => `/v1/cases/${id}/heatmaps/nodule/..%2F..%2Finput.nii.gz`,
    (id: string) => `/v1/cases/${id}/heatmaps/../heatmaps/nodule/lung-nodule.nii.gz`,
    (id: string) => `/v1/cases/${id}/slices/..%2Faxial/1.png`,
    (id: string) => `/v1/cases/${id}/slices/axial/..%2F1.png`,
    (id: string) => `/v1/cases/${id}/heatmaps/%2e%2e/lung-nodule.nii.gz`,
    (id: string) => `/v1/cases/${id}%2F..%2F${id}/image.nii.gz`,
    (_id: string) => '/..%2Fpackage.json',
    (_id: string) => '/vendor/..%2F..%2Fpackage.json',
  ])('traversal %# → 404', async (make) => {
    const r = await raw('GET', make(caseId), auth(ADMIN));
    expect(r.status).toBe(404);
  });

  it('the same routes without traversal do answer (so the 404s above mean something)', async () => {
    const ok = await raw('GET', `/v1/cases/${caseId}/heatmaps/nodule/lung-nodule.nii.gz`, auth(ADMIN));
    expect(ok.status).toBe(200);
    const slice = await raw('GET', `/v1/cases/${caseId}/slices/axial/1.png`, auth(ADMIN));
    expect(slice.status).toBe(200);
  });
});

describe('CORS', () => {
  it('an origin not on the list gets no allow header, on a preflight or a request', async () => {
    const pre = await raw('OPTIONS', '/v1/cases', {
      Origin: 'http://evil.example',
      'Access-Control-Request-Method': 'GET',
      'Access-Control-Request-Headers': 'authorization',
    });
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const get = await raw('GET', '/v1/cases', auth(REVIEWER, { Origin: 'http://evil.example' }));
    expect(get.status).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('an origin on the list gets itself back, never *', async () => {
    const pre = await raw('OPTIONS', '/v1/cases', { Origin: ALLOWED, 'Access-Control-Request-Method': 'GET' });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(pre.headers['access-control-allow-headers']).toMatch(/Authorization/);
    const get = await raw('GET', `/v1/cases/${caseId}/image.nii.gz`, auth(REVIEWER, { Origin: ALLOWED }));
    expect(get.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(get.headers.vary).toMatch(/Origin/);
  });
});

describe('errors', () => {
  it('bad JSON, a wrong content type and an unknown case answer clear 4xx JSON', async () => {
    const bad = await raw(
      'POST',
      `/v1/cases/${caseId}/reviews`,
      auth(REVIEWER, { 'Content-Type': 'application/json' }),
      Buffer.from('{nope'),
    );
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.message).toMatch(/JSON/);
    const type = await raw('POST', `/v1/cases/${caseId}/reviews`, auth(REVIEWER), Buffer.from('{}'));
    expect(type.status).toBe(415);
    const missing = await raw('GET', '/v1/cases/0123456789abcdef01234567', auth(REVIEWER));
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ error: { code: 'not_found' } });
    const method = await raw('POST', '/v1/plugins/x', auth(ADMIN));
    expect(method.status).toBe(404);
    const wrongMethod = await raw('GET', `/v1/cases/${caseId}/reviews`, auth(REVIEWER));
    expect(wrongMethod.status).toBe(200);
  });
});

/** A one-entry zip (stored, no compression). */
function zipOf(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt32LE(content.length, 18);
  header.writeUInt32LE(content.length, 22);
  header.writeUInt16LE(name.length, 26);
  return Buffer.concat([header, Buffer.from(name), content]);
}
