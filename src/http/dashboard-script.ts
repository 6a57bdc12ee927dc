// The dashboard's script, served at GET /dashboard.js: a file of its own so that the page's CSP can refuse every
// inline script (script-src 'self'). Handlers are attached with addEventListener, never as on…= attributes, and no
// code is built from strings: the CSP blocks both. Written as several modules of one script (one global scope, in
// this order): this one (requests, the event stream, helpers), then the jobs view, the datasets and exports, the
// charts — each a file of its own below 300 lines.
import { CHARTS_JS } from './dashboard-script-charts.js';
import { DATA_JS } from './dashboard-script-data.js';
import { JOBS_JS } from './dashboard-script-jobs.js';
import { SCHEDULES_JS } from './dashboard-script-schedules.js';

const CORE_JS = String.raw`'use strict';
let token = sessionStorage.getItem('offload-token') || '';
const ACTIVE = new Set(['scheduled', 'pending', 'running']);
const STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];

const $ = (id) => document.getElementById(id);
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
}
function say(text) { $('message').textContent = text || ''; }
function authHeaders(headers = {}) { return token ? { ...headers, Authorization: 'Bearer ' + token } : headers; }

async function api(method, path, body, headers = {}) {
  const res = await fetch(path, { method, body, headers: authHeaders(headers) });
  if (res.status === 401) { $('token-section').hidden = false; throw new Error('This server needs a token.'); }
  if (res.status === 204) return null;
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (!res.ok) throw new Error(data?.error?.message || res.statusText);
  return data;
}
const postJson = (path, value) => api('POST', path, JSON.stringify(value ?? {}), { 'content-type': 'application/json' });

function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleDateString() === new Date().toLocaleDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}
function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return Math.round(ms) + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
  if (ms < 3600000) return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
  return (ms / 3600000).toFixed(1) + ' h';
}
function jobDuration(job) {
  if (!job.started_at) return null;
  return (job.finished_at ? Date.parse(job.finished_at) : Date.now()) - Date.parse(job.started_at);
}
function formatBytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}
function progressView(job) {
  if (!job.progress) return '';
  const bar = el('progress', { max: job.progress.total || 1, value: job.progress.done, 'aria-label': 'progress' });
  if (!job.progress.total) bar.removeAttribute('value');
  return el('span', { class: 'progress' }, bar, ' ', job.progress.percent === null ? job.progress.done : job.progress.percent + '%');
}

/** Asks before a destructive action, in a modal dialog (Escape or Keep: no). */
function confirmAction(text) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  dialog.returnValue = '';
  dialog.showModal();
  $('confirm-yes').focus();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true }));
}

// The page's one event stream: every job's changes, read with fetch so that the Authorization header can be sent
// (EventSource cannot). Changes are applied in batches, so that a burst of progress costs one repaint; after a
// disconnect it resumes with Last-Event-ID, and a reset (events no longer kept) reloads the views.
let lastEventId = '';
const pendingChanges = new Map();
const shownStatus = new Map();
let flushTimer = 0;
function queueChange(summary) {
  pendingChanges.set(summary.job_id, summary);
  if (!flushTimer) flushTimer = setTimeout(flushChanges, 150);
}
function flushChanges() {
  flushTimer = 0;
  const changes = [...pendingChanges.values()];
  pendingChanges.clear();
  let statusChanged = false;
  for (const summary of changes) {
    if (shownStatus.get(summary.job_id) !== summary.status) statusChanged = true;
    shownStatus.set(summary.job_id, summary.status);
    onJobChange(summary);
  }
  // The tabs' counts follow status changes (at most one /stats a second), not progress.
  if (statusChanged) scheduleStats();
}
async function followEvents() {
  for (;;) {
    try {
      const res = await fetch('/events', { headers: authHeaders(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) });
      if (res.status === 401) { $('token-section').hidden = false; await waitForToken(); continue; }
      if (!res.ok || !res.body) throw new Error('the event stream answered ' + res.status);
      $('live').textContent = 'live';
      $('live').className = 'live on';
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const fields = {};
          for (const line of buffer.slice(0, end).split('\n')) {
            const colon = line.indexOf(': ');
            if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 2);
          }
          buffer = buffer.slice(end + 2);
          if (fields.id) lastEventId = fields.id;
          if (fields.event === 'job') queueChange(JSON.parse(fields.data));
          else if (fields.event === 'reset') refresh();
        }
      }
    } catch (err) { /* reconnect below */ }
    $('live').textContent = 'reconnecting…';
    $('live').className = 'live';
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
let tokenGiven = () => {};
const waitForToken = () => new Promise((resolve) => { tokenGiven = resolve; });

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token').value;
  sessionStorage.setItem('offload-token', token);
  $('token-section').hidden = true;
  tokenGiven();
  refresh();
});

async function refresh() {
  try { await Promise.all([loadDatasets(), loadJobs(), loadExports(), loadStats(), loadSchedules()]); say(''); } catch (err) { say(err.message); }
}
`;

const START_JS = String.raw`
refresh();
followEvents();
setInterval(() => loadStats(true).catch(() => {}), 5000);
setInterval(() => loadSchedules().catch(() => {}), 5000);
`;

export const DASHBOARD_JS = [CORE_JS, JOBS_JS, DATA_JS, CHARTS_JS, SCHEDULES_JS, START_JS].join('\n');
