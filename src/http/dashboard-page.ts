// The dashboard served at GET /: one self-contained page (no build step, no assets to ship beside the binary).
// It holds no data of its own; everything comes from the JSON API with the token the user types in, if any.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>offload</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
  body { margin: 0 auto; max-width: 1100px; padding: 1rem 1.5rem 3rem; }
  h1 { font-size: 1.4rem; margin: .5rem 0 1rem; }
  h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
  section { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: .75rem 1rem; margin-bottom: 1rem; }
  table { width: 100%; border-collapse: collapse; font-size: .9rem; }
  th, td { text-align: left; padding: .35rem .4rem; border-bottom: 1px solid #eef0f3; vertical-align: middle; }
  th { font-weight: 600; color: #555d6b; }
  code { font-size: .8rem; }
  progress { width: 9rem; }
  button, select, input { font: inherit; font-size: .85rem; }
  .status-succeeded, .status-ready { color: #1a7f37; }
  .status-failed, .status-cancelled { color: #c4302b; }
  .status-running, .status-importing { color: #0b63c4; }
  .error { color: #c4302b; font-size: .8rem; }
  #message { min-height: 1.2rem; color: #c4302b; }
  form { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
</style>
</head>
<body>
<h1>offload</h1>
<div id="message" role="status"></div>
<section id="token-section" hidden>
  <form id="token-form"><label>Token <input id="token" type="password" autocomplete="off"></label><button>Use token</button></form>
</section>
<section>
  <h2>Upload a dataset</h2>
  <form id="upload-form">
    <input id="upload-file" type="file" accept=".csv,.ndjson,.jsonl,text/csv,application/x-ndjson" required>
    <input id="upload-name" placeholder="name (default: file name)">
    <button>Upload</button>
  </form>
</section>
<section>
  <h2>Datasets</h2>
  <table><thead><tr><th>Name</th><th>Status</th><th>Rows</th><th>Columns</th><th>Export</th><th></th></tr></thead>
  <tbody id="datasets"></tbody></table>
</section>
<section>
  <h2>Jobs</h2>
  <table><thead><tr><th>Job</th><th>Kind</th><th>Status</th><th>Progress</th><th>Attempts</th><th></th></tr></thead>
  <tbody id="jobs"></tbody></table>
</section>
<script>
'use strict';
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
</script>
</body>
</html>
`;
