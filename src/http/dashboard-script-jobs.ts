// The dashboard's jobs view (a module of /dashboard.js, see dashboard-script.ts): status tabs with live counts,
// filters and search backed by GET /jobs, cursor pages, the detail dialog, cancel, retry and the bulk actions.
export const JOBS_JS = String.raw`
const view = { status: '', kind: '', dataset: '', q: '', after: '', before: '', cursor: null };
let detailId = null;

function filterParams() {
  const params = new URLSearchParams();
  for (const [key, name] of [['status', 'status'], ['kind', 'kind'], ['dataset', 'dataset'], ['q', 'q'], ['after', 'created_after'], ['before', 'created_before']]) {
    if (view[key]) params.set(name, key === 'after' || key === 'before' ? new Date(view[key]).toISOString() : view[key]);
  }
  return params;
}
/** Filters the page cannot check on a summary from the event stream: new jobs are not added live under them. */
const hasScanFilters = () => Boolean(view.dataset || view.q || view.after || view.before);

function jobRow(job) {
  const actions = el('td', { class: 'actions' });
  actions.append(el('button', { type: 'button', onclick: () => openDetail(job.job_id) }, 'Details'));
  if (ACTIVE.has(job.status)) actions.append(el('button', { type: 'button', onclick: () => cancelJob(job.job_id) }, 'Cancel'));
  if (job.status === 'failed' || (job.status === 'cancelled' && job.kind !== 'import')) {
    actions.append(el('button', { type: 'button', onclick: () => retryJob(job.job_id) }, 'Retry'));
  }
  if (job.kind === 'export' && job.status === 'succeeded') actions.append(el('button', { type: 'button', onclick: () => download(job.job_id) }, 'Download'));
  const status = el('td', { 'data-label': 'Status' }, el('span', { class: 'status-' + job.status }, job.status));
  if (job.error && job.status !== 'succeeded') status.append(el('div', { class: 'error' }, job.error.code + ': ' + job.error.message));
  return el('tr', { id: 'job-' + job.job_id },
    el('td', { 'data-label': 'Job' }, el('code', {}, job.job_id.slice(0, 8))),
    el('td', { 'data-label': 'Kind' }, job.kind), status,
    el('td', { 'data-label': 'Progress' }, progressView(job)),
    el('td', { 'data-label': 'Attempts' }, job.attempts + ' / ' + job.max_attempts),
    el('td', { 'data-label': 'Created' }, formatTime(job.created_at)),
    el('td', { 'data-label': 'Duration' }, formatDuration(jobDuration(job))), actions);
}

async function loadJobs(append = false) {
  const params = filterParams();
  params.set('limit', '50');
  if (append && view.cursor) params.set('cursor', view.cursor);
  const rows = [];
  // A search examines a bounded window per page: follow a few windows so that a page is not empty for nothing.
  for (let windows = 0; windows < 5; windows++) {
    const page = await api('GET', '/jobs?' + params);
    rows.push(...page.jobs);
    view.cursor = page.next_cursor;
    if (rows.length >= 50 || !view.cursor || !hasScanFilters()) break;
    params.set('cursor', view.cursor);
  }
  if (!append) $('jobs').replaceChildren();
  for (const job of rows) if (!$('job-' + job.job_id)) $('jobs').append(jobRow(job));
  $('more-jobs').hidden = !view.cursor;
  $('jobs-empty').hidden = $('jobs').children.length > 0;
}

function matchesView(job) {
  return !hasScanFilters() && (!view.status || view.status === job.status) && (!view.kind || view.kind === job.kind);
}

/** A change from the event stream: the row is updated in place, a new matching job is added on top. */
function onJobChange(job) {
  const row = $('job-' + job.job_id);
  if (row) row.replaceWith(jobRow(job));
  else if (matchesView(job)) { $('jobs').prepend(jobRow(job)); $('jobs-empty').hidden = true; }
  if (detailId === job.job_id) scheduleDetail();
  if (job.kind === 'import' && !ACTIVE.has(job.status)) loadDatasets().catch(() => {});
  if (job.kind === 'export') scheduleExports();
}

function renderTabs(counts) {
  const totals = Object.fromEntries(STATUSES.map((status) => [status, 0]));
  for (const row of counts) if (!view.kind || row.kind === view.kind) totals[row.status] += row.count;
  const all = Object.values(totals).reduce((a, b) => a + b, 0);
  $('status-tabs').replaceChildren(...[['', 'all', all], ...STATUSES.map((s) => [s, s, totals[s]])].map(([status, label, count]) =>
    el('button', { type: 'button', class: 'tab', id: 'tab-' + label, 'aria-pressed': String(view.status === status),
      onclick: () => { view.status = status; renderTabs(counts); loadJobs().catch((err) => say(err.message)); } },
    label, ' ', el('span', { class: 'count' }, count))));
}

function renderKindOptions(kinds) {
  const select = $('filter-kind');
  const known = new Set([...select.options].map((o) => o.value));
  for (const kind of kinds) if (!known.has(kind)) select.append(el('option', { value: kind }, kind));
}

$('filter-form').addEventListener('submit', (event) => {
  event.preventDefault();
  Object.assign(view, { kind: $('filter-kind').value, dataset: $('filter-dataset').value, q: $('filter-q').value,
    after: $('filter-after').value, before: $('filter-before').value });
  loadJobs().catch((err) => say(err.message));
  loadStats().catch(() => {});
});
$('filter-reset').addEventListener('click', () => {
  $('filter-form').reset();
  Object.assign(view, { kind: '', dataset: '', q: '', after: '', before: '' });
  loadJobs().catch((err) => say(err.message));
});
$('more-jobs').addEventListener('click', () => loadJobs(true).catch((err) => say(err.message)));

function describeFilter() {
  const parts = [...filterParams()].map(([key, value]) => key + ' = ' + value);
  return parts.length ? parts.join(', ') : 'no filter: every job';
}
async function bulk(action) {
  const what = action === 'cancel' ? 'Cancel every pending or running job' : 'Run again every failed or cancelled job';
  if (!(await confirmAction(what + ' matching ' + describeFilter() + ' (at most 1000)?'))) return;
  try {
    const body = Object.fromEntries(filterParams());
    if (Object.keys(body).length === 0) body.all = true;
    const result = await postJson('/jobs/bulk-' + action, body);
    say((action === 'cancel' ? 'Cancelled ' : 'Retried ') + result.changed + ' job(s)' + (result.more ? '; more match: run it again.' : '.'));
    await loadJobs();
  } catch (err) { say(err.message); }
}
$('bulk-cancel').addEventListener('click', () => bulk('cancel'));
$('bulk-retry').addEventListener('click', () => bulk('retry'));

async function cancelJob(id) {
  try { onJobChange(await api('DELETE', '/jobs/' + id)); } catch (err) { say(err.message); }
}
async function retryJob(id) {
  try { onJobChange(await api('POST', '/jobs/' + id + '/retry')); say(''); } catch (err) { say(err.message); }
}

let detailTimer = 0;
function scheduleDetail() { if (!detailTimer) detailTimer = setTimeout(() => { detailTimer = 0; renderDetail().catch(() => {}); }, 300); }
async function openDetail(id) {
  detailId = id;
  await renderDetail();
  if (!$('detail').open) $('detail').showModal();
}
$('detail').addEventListener('close', () => { detailId = null; });

// One row per attempt of each completion callback (one for a delivery not tried yet); its URL is the job's Callback field.
function deliveryRows(job) {
  return (job.deliveries || []).flatMap((d) => (d.log.length ? d.log : [null]).map((e) => el('tr', {},
    el('td', { 'data-label': 'Event' }, d.event.replace('job.', '')),
    el('td', { 'data-label': 'State' }, el('span', { class: 'status-' + d.state }, d.state)),
    el('td', { 'data-label': 'Attempt' }, e ? e.attempt : ''), el('td', { 'data-label': 'At' }, e ? formatTime(e.at) : formatTime(d.next_attempt_at)),
    el('td', { 'data-label': 'Status' }, e?.status_code ?? ''), el('td', { 'data-label': 'Error' }, e?.error ?? ''),
    el('td', { 'data-label': 'Duration' }, e ? formatDuration(e.duration_ms) : ''))));
}

function json(value) { return el('pre', { class: 'json' }, value === null || value === undefined ? 'null' : JSON.stringify(value, null, 2)); }
function field(name, value) { return [el('dt', {}, name), el('dd', {}, value ?? '')]; }

async function renderDetail() {
  if (!detailId) return;
  const job = await api('GET', '/jobs/' + detailId);
  const attempts = (job.attempt_history || []).map((a) => el('tr', {},
    el('td', { 'data-label': 'Attempt' }, a.attempt), el('td', { 'data-label': 'Outcome' }, el('span', { class: 'status-' + a.outcome }, a.outcome)),
    el('td', { 'data-label': 'Code' }, a.error?.code ?? ''), el('td', { 'data-label': 'Message' }, a.error?.message ?? ''),
    el('td', { 'data-label': 'Exit code' }, a.error?.details?.exit_code ?? ''),
    el('td', { 'data-label': 'Duration' }, a.started_at ? formatDuration(Date.parse(a.ended_at) - Date.parse(a.started_at)) : ''),
    el('td', { 'data-label': 'Owner' }, el('code', {}, (a.owner || '').slice(0, 8)))));
  const actions = el('div', { class: 'actions' });
  if (ACTIVE.has(job.status)) actions.append(el('button', { type: 'button', onclick: () => cancelJob(job.job_id) }, 'Cancel'));
  if (job.status === 'failed' || (job.status === 'cancelled' && job.kind !== 'import')) actions.append(el('button', { type: 'button', onclick: () => retryJob(job.job_id) }, 'Retry'));
  if (job.kind === 'export' && job.status === 'succeeded') actions.append(el('button', { type: 'button', onclick: () => download(job.job_id) }, 'Download'));
  $('detail-body').replaceChildren(
    el('h2', { id: 'detail-title' }, job.kind + ' ', el('code', {}, job.job_id)),
    el('p', {}, el('span', { class: 'status-' + job.status }, job.status), ' ', progressView(job)),
    job.error ? el('p', { class: 'error' }, job.error.code + ': ' + job.error.message) : '',
    el('dl', { class: 'fields' }, field('Created', formatTime(job.created_at)), field('Started', formatTime(job.started_at)),
      field('Finished', formatTime(job.finished_at)), field('Duration', formatDuration(jobDuration(job))),
      field('Attempts', job.attempts + ' / ' + job.max_attempts), field('Next run', formatTime(job.next_run_at)),
      field('Priority', job.priority), field('Timeout', formatDuration(job.timeout_ms)), field('Group key', job.group_key ?? '—'),
      ...(job.dedupe_key ? field('Dedupe key', job.dedupe_key + ' (' + job.dedupe_policy + ')') : []),
      ...(job.callback_url ? field('Callback', job.callback_url) : [])),
    actions,
    el('h3', {}, 'Payload'), json(job.payload),
    el('h3', {}, 'Result'), json(job.result),
    el('h3', {}, 'Attempts'),
    attempts.length ? el('table', { class: 'cards' }, el('thead', {}, el('tr', {}, ...['Attempt', 'Outcome', 'Code', 'Message', 'Exit code', 'Duration', 'Owner'].map((h) => el('th', {}, h)))),
      el('tbody', { id: 'detail-attempts' }, attempts)) : el('p', { class: 'muted' }, 'No attempt has ended yet.'),
    ...(job.callback_url ? [el('h3', {}, 'Callbacks'), job.deliveries.length
      ? el('table', { class: 'cards deliveries' }, el('thead', {}, el('tr', {}, ...['Event', 'State', 'Attempt', 'At', 'Status', 'Error', 'Duration'].map((h) => el('th', {}, h)))),
        el('tbody', { id: 'detail-deliveries' }, deliveryRows(job)))
      : el('p', { class: 'muted' }, 'Sent once the job ends.')] : []));
}
`;
