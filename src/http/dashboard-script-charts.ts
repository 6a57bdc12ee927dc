// The dashboard's pictures (a module of /dashboard.js, see dashboard-script.ts), drawn as inline SVG from GET
// /stats: finishes and failures per minute by kind over the last hour, queue depth with the oldest due job's age,
// and thread use (sampled at each refresh, kept in the page). Colours come from classes (k0 … k7) in the stylesheet,
// so dark mode applies and no style attribute is needed.
export const CHARTS_JS = String.raw`
const SVG_NS = 'http://www.w3.org/2000/svg';
const threadSamples = [];
let kindOrder = [];

function svgEl(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}
const kindClass = (kind) => 'k' + (Math.max(0, kindOrder.indexOf(kind)) % 8);

/** Stacked bars, one per minute: rows are {minute, kind, value}; minutes is the list of ISO minute starts. */
function barChart(minutes, rows, label) {
  const W = 600, H = 150, left = 34, bottom = 18, top = 8;
  const byMinute = new Map(minutes.map((m) => [m, []]));
  for (const row of rows) if (row.value > 0 && byMinute.has(row.minute)) byMinute.get(row.minute).push(row);
  const max = Math.max(1, ...[...byMinute.values()].map((list) => list.reduce((sum, r) => sum + r.value, 0)));
  const step = (W - left) / minutes.length;
  const scale = (H - bottom - top) / max;
  const chart = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img', 'aria-label': label });
  chart.append(svgEl('line', { x1: left, y1: H - bottom, x2: W, y2: H - bottom, class: 'axis' }),
    svgEl('text', { x: left - 4, y: top + 8, class: 'tick', 'text-anchor': 'end' }, max),
    svgEl('text', { x: left - 4, y: H - bottom, class: 'tick', 'text-anchor': 'end' }, 0),
    svgEl('text', { x: left, y: H - 4, class: 'tick' }, '−' + minutes.length + ' min'),
    svgEl('text', { x: W, y: H - 4, class: 'tick', 'text-anchor': 'end' }, 'now'));
  minutes.forEach((minute, i) => {
    let y = H - bottom;
    for (const row of byMinute.get(minute)) {
      const h = row.value * scale;
      y -= h;
      chart.append(svgEl('rect', { x: (left + i * step + 1).toFixed(1), y: y.toFixed(1), width: Math.max(1, step - 2).toFixed(1), height: h.toFixed(1), class: 'bar ' + kindClass(row.kind) },
        svgEl('title', {}, new Date(minute).toLocaleTimeString() + ' ' + row.kind + ': ' + row.value)));
    }
  });
  return chart;
}

function lineChart(values, max, label) {
  const W = 600, H = 150, bottom = 18, top = 8;
  const chart = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img', 'aria-label': label });
  chart.append(svgEl('line', { x1: 0, y1: H - bottom, x2: W, y2: H - bottom, class: 'axis' }),
    svgEl('text', { x: 2, y: top + 8, class: 'tick' }, max), svgEl('text', { x: W, y: H - 4, class: 'tick', 'text-anchor': 'end' }, 'now'),
    svgEl('text', { x: 2, y: H - 4, class: 'tick' }, '−' + (values.length - 1) * 5 + ' s'));
  if (values.length > 1) {
    const points = values.map((v, i) => (i * W / (values.length - 1)).toFixed(1) + ',' + (H - bottom - (v / Math.max(1, max)) * (H - bottom - top)).toFixed(1));
    chart.append(svgEl('polyline', { points: points.join(' '), class: 'line' }));
  }
  return chart;
}

function minuteList(since, count) {
  const start = Date.parse(since);
  return Array.from({ length: count }, (_, i) => new Date(start + i * 60000).toISOString());
}

const intervalText = (ms) => ms % 3600000 === 0 ? ms / 3600000 + ' h' : ms % 60000 === 0 ? ms / 60000 + ' min' : ms % 1000 === 0 ? ms / 1000 + ' s' : ms + ' ms';
const rateText = (rate) => rate ? rate.count + ' per ' + intervalText(rate.interval_ms) : '—';

/** Each limited kind (limit, rate, running now), the limits of each key, and the keys with the most running jobs. */
function renderLimits(limits) {
  const keyed = limits.groups.concurrency !== null || limits.groups.rate !== null;
  if (limits.kinds.length === 0 && !keyed && limits.running_by_group.length === 0) {
    $('limits').replaceChildren(el('p', { class: 'muted' }, 'No limits (offload serve --limit KIND=N, --group-limit N).'));
    return;
  }
  const head = (...names) => el('thead', {}, el('tr', {}, ...names.map((name) => el('th', {}, name))));
  const parts = [];
  if (limits.kinds.length > 0) {
    parts.push(el('table', { class: 'queue', id: 'kind-limits' }, head('Kind', 'Running', 'Limit', 'Rate'),
      el('tbody', {}, ...limits.kinds.map((k) => el('tr', {}, el('td', {}, k.kind), el('td', {}, k.running),
        el('td', {}, k.concurrency === null ? '—' : k.concurrency), el('td', {}, rateText(k.rate)))))));
  }
  if (keyed) {
    const running = limits.groups.concurrency === null ? [] : ['at most ' + limits.groups.concurrency + ' running'];
    const starts = limits.groups.rate === null ? [] : [rateText(limits.groups.rate) + ' starts'];
    parts.push(el('p', { id: 'group-limits' }, 'Per group key: ' + [...running, ...starts].join(', ')));
  }
  if (limits.running_by_group.length > 0) {
    parts.push(el('table', { class: 'queue', id: 'group-running' }, head('Group key', 'Running'),
      el('tbody', {}, ...limits.running_by_group.map((g) => el('tr', {}, el('td', {}, g.group_key), el('td', {}, g.running))))));
  }
  $('limits').replaceChildren(...parts);
}

let statsTimer = 0;
function scheduleStats() { if (!statsTimer) statsTimer = setTimeout(() => { statsTimer = 0; loadStats().catch(() => {}); }, 1000); }

/** sample: the 5 s refresh, which also records thread use for the line (other calls only redraw). */
async function loadStats(sample = false) {
  const stats = await api('GET', '/stats?minutes=60');
  const kinds = [...new Set(stats.counts.map((row) => row.kind))].sort();
  kindOrder = kinds;
  renderTabs(stats.counts);
  renderKindOptions(kinds);
  const minutes = minuteList(stats.since, 60);
  const finished = stats.finished_per_minute;
  $('chart-throughput').replaceChildren(barChart(minutes, finished.map((r) => ({ minute: r.minute, kind: r.kind, value: r.succeeded + r.failed + r.cancelled })), 'jobs finished per minute by kind'));
  $('chart-failures').replaceChildren(barChart(minutes, finished.map((r) => ({ minute: r.minute, kind: r.kind, value: r.failed })), 'jobs failed per minute by kind'));
  const failed = finished.reduce((sum, r) => sum + r.failed, 0);
  const ended = finished.reduce((sum, r) => sum + r.failed + r.succeeded, 0);
  $('failure-rate').textContent = ended ? '— failure rate ' + ((100 * failed) / ended).toFixed(1) + ' % (' + failed + ' of ' + ended + ')' : '— none finished';

  const maxDepth = Math.max(1, ...stats.queue.map((q) => q.pending + q.running));
  $('chart-queue').replaceChildren(stats.queue.length === 0 ? el('p', { class: 'muted' }, 'The queue is empty.') :
    el('table', { class: 'queue' }, el('thead', {}, el('tr', {}, el('th', {}, 'Kind'), el('th', {}, 'Pending'), el('th', {}, 'Running'), el('th', {}, 'Oldest due'), el('th', {}, ''))),
      el('tbody', {}, ...stats.queue.map((q) => el('tr', {}, el('td', {}, el('span', { class: 'swatch ' + kindClass(q.kind) }), q.kind), el('td', {}, q.pending), el('td', {}, q.running),
        el('td', {}, q.oldest_due_age_ms ? formatDuration(q.oldest_due_age_ms) : '—'),
        el('td', {}, el('meter', { min: 0, max: maxDepth, value: q.pending + q.running, 'aria-label': 'depth of ' + q.kind })))))));

  if (sample || threadSamples.length === 0) threadSamples.push(stats.threads.busy);
  if (threadSamples.length > 60) threadSamples.shift();
  $('thread-use').textContent = '— ' + stats.threads.busy + ' of ' + stats.threads.total + ' now';
  $('chart-threads').replaceChildren(lineChart(threadSamples, stats.threads.total, 'threads busy, sampled every 5 s'));
  renderLimits(stats.limits);
  $('legend').replaceChildren(...kinds.map((kind) => el('span', { class: 'legend-item' }, el('span', { class: 'swatch ' + kindClass(kind) }), kind)));
}
`;
