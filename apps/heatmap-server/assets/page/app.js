// The reviewer page: plain ES modules, no build step. niivue comes from the server's own copy
// of the npm package (/vendor/niivue.js), never from a CDN.
import { Niivue } from '/vendor/niivue.js';

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem('anymc3d-token') ?? '', caseId: null, heatmaps: [], poll: null };
let nv = null;

async function api(path, options = {}) {
  const headers = { ...(options.headers ?? {}), Authorization: `Bearer ${state.token}` };
  const response = await fetch(path, { ...options, headers });
  const type = response.headers.get('content-type') ?? '';
  const body = type.includes('application/json') ? await response.json() : null;
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
  return body;
}

function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

async function refreshPlugins() {
  const { plugins } = await api('/v1/plugins');
  const box = $('upload-plugins');
  box.replaceChildren(element('legend', { textContent: 'Plugins' }));
  for (const p of plugins) {
    const input = element('input', { type: 'checkbox', value: p.id, checked: true });
    box.append(element('label', {}, [input, ` ${p.id} (${p.labels.length} labels)`]));
  }
}

async function refreshCases() {
  const { cases } = await api('/v1/cases');
  $('case-list').replaceChildren(
    ...cases.map((c) => {
      const button = element('button', {
        type: 'button',
        textContent: `${c.originalName ?? c.id.slice(0, 8)} · ${c.status}`,
      });
      button.dataset.caseId = c.id;
      button.addEventListener('click', () => openCase(c.id));
      return element('li', {}, [button]);
    }),
  );
}

async function upload(event) {
  event.preventDefault();
  const file = $('upload-file').files[0];
  if (!file) return;
  const plugins = [...$('upload-plugins').querySelectorAll('input:checked')].map((i) => i.value);
  $('upload-status').textContent = 'uploading…';
  try {
    const query = new URLSearchParams({ plugins: plugins.join(','), name: file.name });
    const created = await api(`/v1/cases?${query}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: file,
    });
    $('upload-status').textContent = `case ${created.id} queued`;
    await refreshCases();
    await openCase(created.id);
  } catch (error) {
    $('upload-status').textContent = `upload refused: ${error.message}`;
  }
}

async function openCase(id) {
  clearTimeout(state.poll);
  state.caseId = id;
  const c = await api(`/v1/cases/${id}`);
  $('case-view').hidden = false;
  $('case-title').textContent = c.originalName ?? c.id;
  const percent = Math.round(c.progress * 100);
  $('case-status').textContent = `${c.status} (${c.stage}, ${percent} %)${c.error ? ` — ${c.error}` : ''}`;
  document.body.dataset.caseStatus = c.status;
  if (c.status === 'queued' || c.status === 'running') {
    state.poll = setTimeout(() => openCase(id), 1000);
    return;
  }
  if (c.status !== 'done') return;
  renderPredictions(c);
  renderReviews(c.reviews);
  await showViewer(c);
  await refreshCases();
}

function renderPredictions(c) {
  const rows = [];
  state.heatmaps = [];
  for (const [pluginId, plugin] of Object.entries(c.predictions)) {
    for (const p of plugin.labels) {
      const key = `${pluginId}\u0000${p.label}`;
      if (p.heatmapUrl) state.heatmaps.push({ key, pluginId, label: p.label, url: p.heatmapUrl });
      const radio = (verdict) =>
        element('input', { type: 'radio', name: `verdict-${rows.length}`, value: verdict, title: verdict });
      const agree = radio('agree');
      const disagree = radio('disagree');
      for (const r of [agree, disagree]) {
        r.dataset.plugin = pluginId;
        r.dataset.label = p.label;
      }
      rows.push(
        element('tr', {}, [
          element('td', { textContent: pluginId }),
          element('td', { textContent: p.label }),
          element('td', { textContent: p.probability.toFixed(3) }),
          element('td', { textContent: p.positive ? 'positive' : 'negative', className: p.positive ? 'positive' : '' }),
          element('td', {}, [agree]),
          element('td', {}, [disagree]),
        ]),
      );
    }
  }
  $('predictions').tBodies[0].replaceChildren(...rows);
  // The report needs the token, so it is fetched here and opened from memory, not linked.
  const reports = Object.entries(c.predictions)
    .filter(([, plugin]) => plugin.reportUrl)
    .map(([pluginId, plugin]) => {
      const button = element('button', { type: 'button', textContent: `Report: ${pluginId}` });
      button.dataset.report = plugin.reportUrl;
      button.addEventListener('click', () => openReport(plugin.reportUrl).catch(showError));
      return button;
    });
  $('reports').replaceChildren(...reports);
  $('heatmap-select').replaceChildren(
    ...state.heatmaps.map((h) => element('option', { value: h.key, textContent: `${h.pluginId}: ${h.label}` })),
  );
}

async function openReport(url) {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) throw new Error(`report: ${response.status} ${response.statusText}`);
  const blob = new Blob([await response.arrayBuffer()], { type: 'text/html' });
  window.open(URL.createObjectURL(blob), '_blank', 'noopener');
}

function renderReviews(reviews) {
  $('reviews').replaceChildren(
    ...reviews.map((r) => {
      const verdicts = r.verdicts.map((v) => `${v.label}: ${v.verdict}`).join(', ');
      return element('li', {
        textContent: `${r.reviewer} (${r.createdAt}): ${verdicts}${r.comment ? ` — ${r.comment}` : ''}`,
      });
    }),
  );
}

async function showViewer(c) {
  document.body.dataset.viewer = 'loading';
  if (!nv) {
    nv = new Niivue({ backColor: [0, 0, 0, 1], show3Dcrosshair: false, isColorbar: true });
    await nv.attachToCanvas($('viewer'));
  }
  const headers = { Authorization: `Bearer ${state.token}` };
  const selected = state.heatmaps.find((h) => h.key === $('heatmap-select').value) ?? state.heatmaps[0];
  const volumes = [{ url: new URL(c.imageUrl, location.href).href, name: 'image.nii.gz', headers }];
  if (selected) {
    volumes.push({
      url: new URL(selected.url, location.href).href,
      name: 'heatmap.nii.gz',
      headers,
      colormap: $('colormap').value,
      opacity: Number($('opacity').value),
      cal_min: 0.05,
      cal_max: 1,
    });
  }
  await nv.loadVolumes(volumes);
  await nextFrames();
  document.body.dataset.viewer = 'ready';
}

function nextFrames() {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}

async function applyOverlayStyle() {
  if (!nv || nv.volumes.length < 2) return;
  nv.setOpacity(1, Number($('opacity').value));
  nv.setColormap(nv.volumes[1].id, $('colormap').value);
  nv.drawScene();
  await nextFrames();
  document.body.dataset.overlayOpacity = $('opacity').value;
}

async function submitReview(event) {
  event.preventDefault();
  const verdicts = [...$('predictions').querySelectorAll('input[type=radio]:checked')].map((r) => ({
    plugin: r.dataset.plugin,
    label: r.dataset.label,
    verdict: r.value,
  }));
  try {
    await api(`/v1/cases/${state.caseId}/reviews`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ comment: $('comment').value, verdicts }),
    });
    $('review-status').textContent = 'review saved';
    const { reviews } = await api(`/v1/cases/${state.caseId}/reviews`);
    renderReviews(reviews);
  } catch (error) {
    $('review-status').textContent = `review refused: ${error.message}`;
  }
}

async function start() {
  $('token').value = state.token;
  if (!state.token) return;
  const me = await api('/v1/me');
  $('signed-in').textContent = `signed in as ${me.name} (${me.role})`;
  await refreshPlugins();
  await refreshCases();
}

function showError(error) {
  $('upload-status').textContent = error.message;
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('token').value;
  sessionStorage.setItem('anymc3d-token', state.token);
  start().catch(showError);
});
$('upload-form').addEventListener('submit', upload);
$('review-form').addEventListener('submit', submitReview);
$('refresh').addEventListener('click', () => refreshCases().catch(showError));
$('opacity').addEventListener('input', () => applyOverlayStyle());
$('colormap').addEventListener('change', () => applyOverlayStyle());
$('heatmap-select').addEventListener('change', async () => {
  if (state.caseId) await showViewer(await api(`/v1/cases/${state.caseId}`));
});
start().catch(showError);
