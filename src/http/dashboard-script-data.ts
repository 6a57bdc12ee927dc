// The dashboard's datasets and exports (a module of /dashboard.js, see dashboard-script.ts): upload, the dataset
// list with a preview of the first rows, starting an export, and the exports with format, size, expiry, download.
export const DATA_JS = String.raw`
const FORMATS = ['csv', 'ndjson', 'json', 'xlsx', 'parquet'];
const datasetNames = new Map();

async function loadDatasets() {
  const page = await api('GET', '/datasets?limit=100');
  for (const dataset of page.datasets) datasetNames.set(dataset.id, dataset.name);
  const filter = $('filter-dataset');
  const chosen = filter.value;
  filter.replaceChildren(el('option', { value: '' }, 'any'), ...page.datasets.map((d) => el('option', { value: d.id }, d.name)));
  filter.value = chosen;
  $('datasets').replaceChildren(...page.datasets.map((dataset) => {
    const format = el('select', { 'aria-label': 'format' }, ...FORMATS.map((f) => el('option', { value: f }, f)));
    const gzip = el('input', { type: 'checkbox', 'aria-label': 'gzip' });
    const exportCell = el('td', { 'data-label': 'Export', class: 'actions' });
    if (dataset.status === 'ready') {
      exportCell.append(format, el('label', {}, gzip, 'gzip'),
        el('button', { type: 'button', onclick: () => startExport(dataset, format.value, gzip.checked) }, 'Export'));
    }
    const status = el('td', { 'data-label': 'Status' }, el('span', { class: 'status-' + dataset.status }, dataset.status));
    if (dataset.error) status.append(el('div', { class: 'error' }, dataset.error.message));
    const actions = el('td', { class: 'actions' });
    if (dataset.status === 'ready') actions.append(el('button', { type: 'button', onclick: () => showPreview(dataset) }, 'Preview'));
    actions.append(el('button', { type: 'button', onclick: () => showDatasetJobs(dataset) }, 'Jobs'),
      el('button', { type: 'button', class: 'danger', onclick: () => removeDataset(dataset) }, 'Delete'));
    return el('tr', { id: 'dataset-' + dataset.id }, el('td', { 'data-label': 'Name' }, dataset.name), status,
      el('td', { 'data-label': 'Rows' }, dataset.rows ?? ''),
      el('td', { 'data-label': 'Columns', class: 'columns' }, dataset.columns ? dataset.columns.length + ': ' + dataset.columns.map((c) => c.name + ':' + c.type).join(', ') : ''),
      exportCell, actions);
  }));
}

async function showPreview(dataset) {
  try {
    const preview = await api('GET', '/datasets/' + dataset.id + '/preview?limit=20');
    $('preview').replaceChildren(el('h3', {}, 'First ' + preview.rows.length + ' of ' + preview.total_rows + ' rows of ' + dataset.name),
      el('div', { class: 'scroll-x', tabindex: '0', role: 'region', 'aria-label': 'preview of ' + dataset.name },
        el('table', { class: 'preview' }, el('thead', {}, el('tr', {}, ...preview.columns.map((c) => el('th', {}, c.name, el('div', { class: 'muted' }, c.type))))),
          el('tbody', {}, ...preview.rows.map((row) => el('tr', {}, ...row.map((value) => el('td', { class: value === null ? 'muted' : '' }, value === null ? 'null' : String(value)))))))));
  } catch (err) { say(err.message); }
}

function showDatasetJobs(dataset) {
  $('filter-dataset').value = dataset.id;
  view.dataset = dataset.id;
  loadJobs().catch((err) => say(err.message));
  $('jobs-section').scrollIntoView();
}

async function startExport(dataset, format, gzip) {
  try {
    const accepted = await postJson('/exports', { dataset_id: dataset.id, format, compression: gzip ? 'gzip' : 'none' });
    onJobChange(await api('GET', '/jobs/' + accepted.job_id));
    say('');
  } catch (err) { say(err.message); }
}

async function removeDataset(dataset) {
  if (!(await confirmAction('Delete the dataset ' + dataset.name + ' and its file? Its exports stay until they expire.'))) return;
  try { await api('DELETE', '/datasets/' + dataset.id); await loadDatasets(); } catch (err) { say(err.message); }
}

let exportsTimer = 0;
function scheduleExports() { if (!exportsTimer) exportsTimer = setTimeout(() => { exportsTimer = 0; loadExports().catch(() => {}); }, 500); }

async function loadExports() {
  const page = await api('GET', '/exports?limit=50');
  $('exports').replaceChildren(...page.exports.map((job) => {
    const payload = job.payload || {};
    const result = job.result || {};
    const actions = el('td', { class: 'actions' });
    if (job.status === 'succeeded' && !result.expired) actions.append(el('button', { type: 'button', onclick: () => download(job.job_id) }, 'Download'));
    if (ACTIVE.has(job.status)) actions.append(el('button', { type: 'button', onclick: () => cancelJob(job.job_id) }, 'Cancel'));
    else actions.append(el('button', { type: 'button', class: 'danger', onclick: () => removeExport(job) }, 'Delete'));
    return el('tr', { id: 'export-' + job.job_id },
      el('td', { 'data-label': 'Export' }, el('code', {}, job.job_id.slice(0, 8))),
      el('td', { 'data-label': 'Dataset' }, datasetNames.get(payload.dataset_id) || (payload.dataset_id || '').slice(0, 8)),
      el('td', { 'data-label': 'Format' }, (payload.format || '') + (payload.compression === 'gzip' ? ' + gzip' : '')),
      el('td', { 'data-label': 'Status' }, el('span', { class: 'status-' + job.status }, job.status), ' ', progressView(job)),
      el('td', { 'data-label': 'Size' }, formatBytes(result.bytes) + (result.rows !== undefined ? ' · ' + result.rows + ' rows' : '')),
      el('td', { 'data-label': 'Expires' }, result.expired ? 'expired' : formatTime(result.expires_at)), actions);
  }));
}

async function removeExport(job) {
  if (!(await confirmAction('Delete the export ' + job.job_id.slice(0, 8) + ' and its file?'))) return;
  try { await api('DELETE', '/exports/' + job.job_id); await loadExports(); } catch (err) { say(err.message); }
}

async function download(id) {
  try {
    const res = await fetch('/exports/' + id + '/download', { headers: authHeaders() });
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
  const type = /\.(ndjson|jsonl)$/i.test(file.name) ? 'application/x-ndjson' : 'text/csv';
  const name = $('upload-name').value || file.name;
  try {
    const accepted = await api('POST', '/datasets?name=' + encodeURIComponent(name), file, { 'content-type': type });
    $('upload-form').reset();
    await loadDatasets();
    onJobChange(await api('GET', '/jobs/' + accepted.job_id));
    say('');
  } catch (err) { say(err.message); }
});
`;
