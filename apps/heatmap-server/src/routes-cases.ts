import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppContext, RequestContext, Route } from './app-context.js';
import { checkCapacity } from './capacity.js';
import { sendFile } from './files.js';
import { HttpError, notFound, readJson, sendJson, slug } from './http-util.js';
import { isId, newId } from './ids.js';
import { COLORMAPS, type ColormapName, renderSlicePng, SLICE_AXES, type SliceAxis, sliceCount } from './slice-png.js';
import type { CaseRow, PredictionRow, ReviewRow, Verdict } from './store.js';
import { receiveVolume } from './upload.js';
import { checkVolumeBounds } from './volume-bounds.js';
import { FORMAT_EXTENSION } from './volume-format.js';

export const caseRoutes: Route[] = [
  { method: 'POST', pattern: '/v1/cases', access: 'reviewer', handle: createCase },
  { method: 'GET', pattern: '/v1/cases', access: 'reviewer', handle: listCases },
  { method: 'GET', pattern: '/v1/cases/:id', access: 'reviewer', handle: getCase },
  { method: 'GET', pattern: '/v1/cases/:id/image.nii.gz', access: 'reviewer', handle: getImage },
  { method: 'GET', pattern: '/v1/cases/:id/heatmaps/:plugin/:label.nii.gz', access: 'reviewer', handle: getHeatmap },
  { method: 'GET', pattern: '/v1/cases/:id/slices/:axis/:index.png', access: 'reviewer', handle: getSlice },
  {
    method: 'GET',
    pattern: '/v1/cases/:id/heatmaps/:plugin/:label/slices/:axis/:index.png',
    access: 'reviewer',
    handle: getSlice,
  },
  { method: 'GET', pattern: '/v1/cases/:id/reports/:plugin.html', access: 'reviewer', handle: getReport },
  { method: 'POST', pattern: '/v1/cases/:id/retry', access: 'admin', handle: retryCase },
  { method: 'GET', pattern: '/v1/audit', access: 'admin', handle: listAudit },
  { method: 'GET', pattern: '/v1/me', access: 'reviewer', handle: (_app, { res, user }) => sendJson(res, 200, user) },
  { method: 'GET', pattern: '/v1/cases/:id/reviews', access: 'reviewer', handle: listReviews },
  { method: 'POST', pattern: '/v1/cases/:id/reviews', access: 'reviewer', handle: addReview },
];

async function createCase(app: AppContext, ctx: RequestContext): Promise<void> {
  const { req, res, url } = ctx;
  const available = app.analyzer.plugins.map((p) => p.id);
  const asked = (url.searchParams.get('plugins') ?? '').split(',').filter(Boolean);
  const pluginIds = asked.length > 0 ? [...new Set(asked)] : available;
  const unknown = pluginIds.filter((id) => !available.includes(id));
  if (unknown.length > 0)
    throw new HttpError(422, 'unknown_plugin', `no loaded plugin is called ${unknown.map((u) => `"${u}"`).join(', ')}`);
  if (pluginIds.length === 0) throw new HttpError(409, 'no_plugins', 'no plugin is loaded');
  await checkCapacity(app, res);
  const id = newId();
  const tmp = join(app.tmpDir, `${id}.upload`);
  const { size, format } = await receiveVolume(req, tmp, app.config.maxUploadBytes);
  const inputFile = `input${FORMAT_EXTENSION[format]}`;
  try {
    if (format === 'dicom-zip') {
      throw new HttpError(
        415,
        'dicom_zip_unsupported',
        'a zipped DICOM series is not read by the server: convert it to NIfTI (e.g. `dcm2niix`, or `anymc3d inspect` on the unzipped folder) and upload that',
      );
    }
    // The header's dimensions, before anything is inflated: a bomb is refused here, not in the worker.
    await checkVolumeBounds(tmp, format, { maxVoxels: app.config.maxVoxels, maxBytes: app.config.maxVolumeBytes });
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  try {
    await mkdir(join(app.casesDir, id), { recursive: true });
    await rename(tmp, join(app.casesDir, id, inputFile));
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  // The client's file name is kept as a note for people, never used in a path.
  const name =
    url.searchParams
      .get('name')
      ?.replace(/[^\p{L}\p{N} ._()-]/gu, '')
      .slice(0, 200) || null;
  app.store.insertCase({ id, originalName: name, format, sizeBytes: size, pluginIds, inputFile });
  audit(app, ctx, 'upload', id, `${size} bytes, ${format}, plugins ${pluginIds.join(',')}`);
  app.queue.enqueue(id);
  res.setHeader('Location', `/v1/cases/${id}`);
  sendJson(res, 202, caseJson(app, app.store.getCase(id) as CaseRow, false));
}

/** A whole-number query parameter in [min, max], or a 400 naming it. */
export function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const v = Number(raw);
  if (!(/^\d+$/.test(raw) && v >= min && v <= max))
    throw new HttpError(
      400,
      'bad_parameter',
      `${name} must be a whole number from ${min} to ${max} (got "${raw.slice(0, 40)}")`,
    );
  return v;
}

function listCases(app: AppContext, { res, url }: RequestContext): void {
  const limit = intParam(url, 'limit', 50, 1, 200);
  const offset = intParam(url, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  const cases = app.store.listCases(limit, offset).map((c) => caseJson(app, c, false));
  sendJson(res, 200, { total: app.store.countCases(), limit, offset, cases });
}

/** Where the analyzer leaves a plugin's report for a case (the plugin id is one the case was analysed with). */
function reportPath(app: AppContext, c: CaseRow, pluginId: string): string | null {
  if (!c.pluginIds.includes(pluginId)) return null;
  const path = join(app.casesDir, c.id, `report-${pluginId}.html`);
  return existsSync(path) ? path : null;
}

/**
 * The case's self-contained report for one plugin, as `anymc3d heatmap --report` writes it: shown
 * inline, never cached (it holds patient data), and allowed nothing but its inline style and images.
 */
async function getReport(app: AppContext, ctx: RequestContext): Promise<void> {
  const { res, req, params } = ctx;
  const c = finishedCase(app, params.id);
  const path = reportPath(app, c, params.plugin ?? '');
  if (!path) throw notFound(`no report for plugin "${params.plugin}" on this case`);
  audit(app, ctx, 'view-report', c.id, params.plugin ?? '');
  const body = await readFile(path);
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function getCase(app: AppContext, ctx: RequestContext): void {
  const c = findCase(app, ctx.params.id);
  audit(app, ctx, 'view', c.id);
  sendJson(ctx.res, 200, caseJson(app, c, true));
}

async function retryCase(app: AppContext, ctx: RequestContext): Promise<void> {
  const c = findCase(app, ctx.params.id);
  if (!app.store.retry(c.id))
    throw new HttpError(409, 'not_failed', `the case is ${c.status}; only a failed case is retried`);
  audit(app, ctx, 'retry', c.id, `after ${c.attempts} attempt(s): ${c.error ?? ''}`);
  app.queue.enqueue(c.id);
  sendJson(ctx.res, 202, caseJson(app, app.store.getCase(c.id) as CaseRow, false));
}

function listAudit(app: AppContext, { res, url }: RequestContext): void {
  const limit = intParam(url, 'limit', 100, 1, 1000);
  const offset = intParam(url, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  const caseId = url.searchParams.get('case') ?? undefined;
  if (caseId !== undefined && !isId(caseId)) throw new HttpError(400, 'bad_parameter', 'case must be a case id');
  sendJson(res, 200, {
    limit,
    offset,
    entries: app.store.auditTrail({ limit, offset, ...(caseId ? { caseId } : {}) }),
  });
}

/** One row of the audit trail for what the authenticated user did. */
function audit(app: AppContext, ctx: RequestContext, action: string, caseId: string | null, detail = ''): void {
  app.store.audit({ user: ctx.user?.name ?? 'anonymous', role: ctx.user?.role ?? 'none', action, caseId, detail });
}

async function getImage(app: AppContext, ctx: RequestContext): Promise<void> {
  const c = finishedCase(app, ctx.params.id);
  audit(app, ctx, 'download', c.id, 'image.nii.gz');
  await sendFile(ctx, join(app.casesDir, c.id, c.imageFile as string), 'application/gzip', `${c.id}-image.nii.gz`);
}

async function getHeatmap(app: AppContext, ctx: RequestContext): Promise<void> {
  const c = finishedCase(app, ctx.params.id);
  const p = findPrediction(app, c, ctx.params.plugin ?? '', ctx.params.label ?? '');
  if (!p.heatmapFile) throw notFound(`plugin ${p.pluginId} gives no heatmap for "${p.label}"`);
  await sendFile(
    ctx,
    join(app.casesDir, c.id, p.heatmapFile),
    'application/gzip',
    `${c.id}-${p.pluginId}-${slug(p.label)}.nii.gz`,
  );
}

async function getSlice(app: AppContext, ctx: RequestContext): Promise<void> {
  const { params, url, res, req } = ctx;
  const c = finishedCase(app, params.id);
  const axis = params.axis as SliceAxis;
  if (!SLICE_AXES.includes(axis)) throw notFound(`axis must be one of ${SLICE_AXES.join(', ')}`);
  if (!/^\d{1,6}$/.test(params.index ?? '')) throw notFound('the slice index is not a number');
  const index = Number(params.index);
  const q = url.searchParams;
  const pluginId = params.plugin ?? q.get('plugin');
  const label = params.label ?? q.get('label');
  const prediction = pluginId && label ? findPrediction(app, c, pluginId, label) : null;
  if (prediction && !prediction.heatmapFile) throw notFound(`no heatmap for "${prediction.label}"`);
  const colormap = (q.get('colormap') ?? 'hot') as ColormapName;
  if (!COLORMAPS.includes(colormap)) throw new HttpError(400, 'bad_colormap', `colormap is one of ${COLORMAPS}`);
  const opacity = Number(q.get('opacity') ?? 0.6);
  if (!(opacity >= 0 && opacity <= 1)) throw new HttpError(400, 'bad_opacity', 'opacity is a number in [0, 1]');
  const windowParam = q.get('window');
  let window: [number, number] | undefined;
  if (windowParam) {
    const [lo, hi] = windowParam.split(',').map(Number);
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && (hi as number) > (lo as number)))
      throw new HttpError(400, 'bad_window', 'window is "low,high" with low < high');
    window = [lo as number, hi as number];
  }
  const key = [c.id, c.finishedAt, axis, index, prediction?.pluginId, prediction?.label, colormap, opacity, window]
    .map(String)
    .join('|');
  const etag = `"${Buffer.from(key).toString('base64url').slice(-40)}-${key.length}"`;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { ETag: etag });
    res.end();
    return;
  }
  let png = app.pngs.get(key);
  if (!png) {
    const image = await app.volumes.get(join(app.casesDir, c.id, c.imageFile as string));
    if (index >= sliceCount(image, axis)) throw notFound(`the ${axis} axis has ${sliceCount(image, axis)} slices`);
    const overlay = prediction?.heatmapFile
      ? await app.volumes.get(join(app.casesDir, c.id, prediction.heatmapFile))
      : undefined;
    if (overlay && overlay.size.join() !== image.size.join())
      throw new HttpError(500, 'grid_mismatch', 'the heatmap is not on the image grid');
    png = renderSlicePng(image, {
      axis,
      index,
      window,
      // Heatmaps hold [0, 1] (caseHeatmaps: clipped at 0, divided by the maximum).
      overlay: overlay && { volume: overlay, colormap, opacity, range: [0, 1] },
    });
    app.pngs.set(key, png);
  }
  res.writeHead(200, {
    'Content-Type': 'image/png',
    'Content-Length': png.length,
    'Cache-Control': 'private, max-age=3600',
    ETag: etag,
  });
  res.end(req.method === 'HEAD' ? undefined : png);
}

function listReviews(app: AppContext, { res, params }: RequestContext): void {
  const c = findCase(app, params.id);
  sendJson(res, 200, { reviews: app.store.reviews(c.id) });
}

async function addReview(app: AppContext, ctx: RequestContext): Promise<void> {
  const { req, res, params } = ctx;
  const c = finishedCase(app, params.id);
  const body = await readJson(req);
  if (typeof body !== 'object' || body === null) throw badReview('the body is not an object');
  const { reviewer, comment = '', verdicts = [] } = body as Record<string, unknown>;
  // The review is signed by the token's user; a name in the body may only repeat it.
  const name = ctx.user?.name ?? '';
  if (reviewer !== undefined && reviewer !== name)
    throw badReview(`a review is signed by the authenticated user ("${name}"), not by a name in the body`);
  if (typeof comment !== 'string' || comment.length > 5000)
    throw badReview('comment is text of at most 5000 characters');
  if (!Array.isArray(verdicts)) throw badReview('verdicts is a list of {plugin, label, verdict}');
  const predictions = app.store.predictions(c.id);
  const checked: ReviewRow['verdicts'] = [];
  for (const v of verdicts as unknown[]) {
    const { plugin, label, verdict } = (v ?? {}) as Record<string, unknown>;
    if (verdict !== 'agree' && verdict !== 'disagree') throw badReview('each verdict is "agree" or "disagree"');
    const p = predictions.find((x) => x.pluginId === plugin && x.label === label);
    if (!p) throw badReview(`this case has no prediction for plugin "${plugin}" label "${label}"`);
    checked.push({ pluginId: p.pluginId, label: p.label, verdict: verdict as Verdict });
  }
  if (checked.length === 0 && !comment.trim()) throw badReview('give at least one verdict or a comment');
  const review: ReviewRow = {
    id: newId(),
    reviewer: name,
    comment,
    createdAt: new Date().toISOString(),
    verdicts: checked,
  };
  app.store.addReview(c.id, review);
  audit(app, ctx, 'review', c.id, review.verdicts.map((v) => `${v.pluginId}/${v.label}: ${v.verdict}`).join('; '));
  sendJson(res, 201, review);
}

const badReview = (message: string) => new HttpError(422, 'bad_review', message);

function findCase(app: AppContext, id: string | undefined): CaseRow {
  const c = id && isId(id) ? app.store.getCase(id) : null;
  if (!c) throw notFound('no such case');
  return c;
}

function finishedCase(app: AppContext, id: string | undefined): CaseRow {
  const c = findCase(app, id);
  if (c.purgedAt) throw new HttpError(410, 'purged', `the case's files were deleted by retention on ${c.purgedAt}`);
  if (c.status !== 'done' || !c.imageFile)
    throw new HttpError(409, 'not_ready', `the case is ${c.status}${c.error ? `: ${c.error}` : ''}`);
  return c;
}

/** A label in a URL may be the label itself or its slug; nothing from the URL names a file. */
function findPrediction(app: AppContext, c: CaseRow, pluginId: string, label: string): PredictionRow {
  const rows = app.store.predictions(c.id).filter((p) => p.pluginId === pluginId);
  const p = rows.find((r) => r.label === label) ?? rows.find((r) => slug(r.label) === label);
  if (!p) throw notFound(`no prediction for plugin "${pluginId}" label "${label}"`);
  return p;
}

function caseJson(app: AppContext, c: CaseRow, full: boolean) {
  const base = `/v1/cases/${c.id}`;
  const summary = {
    id: c.id,
    url: base,
    createdAt: c.createdAt,
    originalName: c.originalName,
    format: c.format,
    sizeBytes: c.sizeBytes,
    plugins: c.pluginIds,
    status: c.status,
    progress: c.progress,
    stage: c.stage,
    error: c.error,
    attempts: c.attempts,
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
    inferenceMs: c.inferenceMs,
    purgedAt: c.purgedAt,
    imageUrl: c.status === 'done' ? `${base}/image.nii.gz` : null,
  };
  if (!full) return summary;
  const rows = app.store.predictions(c.id);
  const predictions: Record<string, unknown> = {};
  for (const pluginId of c.pluginIds) {
    const plugin = app.analyzer.plugins.find((p) => p.id === pluginId);
    const labels = rows
      .filter((r) => r.pluginId === pluginId)
      .map((r) => {
        const i = plugin?.labels.indexOf(r.label) ?? -1;
        const threshold = (i >= 0 ? plugin?.thresholds?.[i] : undefined) ?? 0.5;
        const path = `${base}/heatmaps/${encodeURIComponent(pluginId)}/${encodeURIComponent(slug(r.label))}`;
        return {
          label: r.label,
          slug: slug(r.label),
          probability: r.probability,
          threshold,
          positive: r.probability >= threshold,
          heatmapUrl: r.heatmapFile ? `${path}.nii.gz` : null,
          slicesUrl: r.heatmapFile ? `${path}/slices` : null,
        };
      });
    const report =
      c.status === 'done' && reportPath(app, c, pluginId)
        ? `${base}/reports/${encodeURIComponent(pluginId)}.html`
        : null;
    predictions[pluginId] = {
      task: plugin?.task ?? null,
      backbone: plugin?.backbone ?? null,
      labels,
      reportUrl: report,
    };
  }
  return { ...summary, slicesUrl: `${base}/slices`, predictions, reviews: app.store.reviews(c.id) };
}
