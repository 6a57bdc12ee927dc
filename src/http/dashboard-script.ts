// The dashboard's script, served at GET /dashboard.js: a file of its own so that the page's CSP can refuse every
// inline script (script-src 'self'). Handlers are attached with addEventListener, never as on…= attributes, and no
// code is built from strings: the CSP blocks both.
export const DASHBOARD_JS = `'use strict';
const FORMATS = ['csv', 'ndjson', 'json', 'xlsx', 'parquet'];
const watched = new Map();
let token = sessionStorage.getItem('offload-token') || '';

const $ = (id) => document.getElementById(id);
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
}
function say(text) { $('message').textContent = text || ''; }

async function api(method, path, body, headers = {}) {
  if (token) headers.Authorization = 'Bearer ' + token;
  const res = await fetch(path, { method, body, headers });
  if (res.status === 401) { $('token-section').hidden = false; throw new Error('This server needs a token.'); }
  if (res.status === 204) return null;
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (!res.ok) throw new Error(data?.error?.message || res.statusText);
  return data;
}

function progressCell(job) {
  if (!job.progress) return '';
  const bar = el('progress', { max: job.progress.total || 1, value: job.progress.done });
  if (!job.progress.total) bar.removeAttribute('value');
  return el('span', {}, bar, ' ', job.progress.percent === null ? job.progress.done : job.progress.percent + '%');
}

function jobRow(job) {
  const actions = el('td');
  if (job.status === 'pending' || job.status === 'running') {
    actions.append(el('button', { onclick: () => cancel(job) }, 'Cancel'));
  }
  if (job.kind === 'export' && job.status === 'succeeded') {
    actions.append(el('button', { onclick: () => download(job) }, 'Download'));
  }
  const status = el('td', { class: 'status-' + job.status }, job.status);
  if (job.error && job.status !== 'succeeded') status.append(el('div', { class: 'error' }, job.error.code + ': ' + job.error.message));
  return el('tr', { id: 'job-' + job.job_id },
    el('td', {}, el('code', {}, job.job_id.slice(0, 8))), el('td', {}, job.kind), status,
    el('td', {}, progressCell(job)), el('td', {}, job.attempts + ' / ' + job.max_attempts), actions);
}

function showJob(job) {
  const row = jobRow(job);
  const old = $('job-' + job.job_id);
  if (old) old.replaceWith(row); else $('jobs').prepend(row);
  if (job.status === 'pending' || job.status === 'running') watch(job.job_id);
}

// Server-Sent Events read with fetch, so that the Authorization header can be sent (EventSource cannot).
async function watch(id) {
  if (watched.has(id)) return;
  const controller = new AbortController();
  watched.set(id, controller);
  try {
    const res = await fetch('/jobs/' + id + '/events', { headers: token ? { Authorization: 'Bearer ' + token } : {}, signal: controller.signal });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\\n\\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\\n').find((line) => line.startsWith('data: '));
        if (data) {
          const job = JSON.parse(data.slice(6));
          showJobWithoutWatching(job);
          if (job.kind === 'import' && job.status !== 'pending' && job.status !== 'running') loadDatasets();
        }
      }
    }
  } catch (err) {
    if (err.name !== 'AbortError') say(err.message);
  } finally {
    watched.delete(id);
  }
}
function showJobWithoutWatching(job) {
  const row = jobRow(job);
  const old = $('job-' + job.job_id);
  if (old) old.replaceWith(row); else $('jobs').prepend(row);
}

async function loadJobs() {
  const page = await api('GET', '/jobs?limit=50');
  $('jobs').replaceChildren();
  for (const job of page.jobs.reverse()) showJob(job);
}

async function loadDatasets() {
  const page = await api('GET', '/datasets?limit=100');
  $('datasets').replaceChildren(...page.datasets.map((dataset) => {
    const format = el('select', { 'aria-label': 'format' }, ...FORMATS.map((f) => el('option', { value: f }, f)));
    const gzip = el('input', { type: 'checkbox', 'aria-label': 'gzip' });
    const exportCell = el('td');
    if (dataset.status === 'ready') {
      exportCell.append(format, el('label', {}, gzip, 'gzip'),
        el('button', { onclick: () => startExport(dataset, format.value, gzip.checked) }, 'Export'));
    }
    const status = el('td', { class: 'status-' + dataset.status }, dataset.status);
    if (dataset.error) status.append(el('div', { class: 'error' }, dataset.error.message));
    return el('tr', { id: 'dataset-' + dataset.id }, el('td', {}, dataset.name), status, el('td', {}, dataset.rows ?? ''),
      el('td', {}, dataset.columns ? dataset.columns.map((c) => c.name + ':' + c.type).join(', ') : ''), exportCell,
      el('td', {}, el('button', { onclick: () => removeDataset(dataset) }, 'Delete')));
  }));
}

async function startExport(dataset, format, gzip) {
  try {
    const accepted = await api('POST', '/exports', JSON.stringify({ dataset_id: dataset.id, format, compression: gzip ? 'gzip' : 'none' }),
      { 'content-type': 'application/json' });
    showJob(await api('GET', '/jobs/' + accepted.job_id));
    say('');
  } catch (err) { say(err.message); }
}

async function cancel(job) {
  try { showJob(await api('DELETE', '/jobs/' + job.job_id)); } catch (err) { say(err.message); }
}

async function removeDataset(dataset) {
  try { await api('DELETE', '/datasets/' + dataset.id); await loadDatasets(); } catch (err) { say(err.message); }
}

async function download(job) {
  try {
    const res = await fetch('/exports/' + job.job_id + '/download', { headers: token ? { Authorization: 'Bearer ' + token } : {} });
    if (!res.ok) throw new Error((await res.json()).error.message);
    const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') || '')?.[1] || 'export';
    const link = el('a', { href: URL.createObjectURL(await res.blob()), download: name });
    link.click();
    URL.revokeObjectURL(link.href);
  } catch (err) { say(err.message); }
}

$('upload-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = $('upload-file').files[0];
  const type = /\\.(ndjson|jsonl)$/i.test(file.name) ? 'application/x-ndjson' : 'text/csv';
  const name = $('upload-name').value || file.name;
  try {
    const accepted = await api('POST', '/datasets?name=' + encodeURIComponent(name), file, { 'content-type': type });
    $('upload-form').reset();
    await loadDatasets();
    showJob(await api('GET', '/jobs/' + accepted.job_id));
    say('');
  } catch (err) { say(err.message); }
});

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token').value;
  sessionStorage.setItem('offload-token', token);
  $('token-section').hidden = true;
  refresh();
});

async function refresh() {
  try { await Promise.all([loadDatasets(), loadJobs()]); say(''); } catch (err) { say(err.message); }
}
refresh();
setInterval(() => loadDatasets().catch(() => {}), 5000);
`;
