// The dashboard served at GET /: an operations console. Its script and stylesheet are compiled in too
// (dashboard-script*.ts, dashboard-style.ts) and served as files of their own, so that the page's CSP allows no
// inline code at all; there are still no assets to ship beside the binary. It holds no data of its own; everything
// comes from the JSON API (and the one event stream, GET /events) with the token the user types in, if any.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>offload</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header class="top">
  <h1><img src="/favicon.svg" alt="" width="24" height="24"> offload</h1>
  <nav aria-label="Views"><a href="#jobs-section">Jobs</a><a href="#charts">Charts</a><a href="#datasets-section">Datasets</a><a href="#exports-section">Exports</a><a href="#schedules-section">Schedules</a></nav>
  <span id="live" class="live" title="Live updates">connecting…</span>
</header>
<div id="message" role="status"></div>
<section id="token-section" hidden>
  <form id="token-form"><label>Token <input id="token" type="password" autocomplete="off"></label><button>Use token</button></form>
</section>
<section id="jobs-section">
  <h2>Jobs</h2>
  <div id="status-tabs" class="tabs" role="group" aria-label="Status"></div>
  <form id="filter-form" class="filters">
    <label>Kind <select id="filter-kind"><option value="">any</option></select></label>
    <label>Dataset <select id="filter-dataset"><option value="">any</option></select></label>
    <label>Created after <input id="filter-after" type="datetime-local"></label>
    <label>Created before <input id="filter-before" type="datetime-local"></label>
    <label class="grow">Search payload and result <input id="filter-q" type="search" placeholder="text (case-sensitive)"></label>
    <button>Apply</button><button type="button" id="filter-reset">Reset</button>
  </form>
  <div class="bulk"><button type="button" id="bulk-cancel">Cancel matching…</button><button type="button" id="bulk-retry">Retry matching…</button></div>
  <table class="cards"><thead><tr><th>Job</th><th>Kind</th><th>Status</th><th>Progress</th><th>Attempts</th><th>Created</th><th>Duration</th><th></th></tr></thead>
  <tbody id="jobs"></tbody></table>
  <p id="jobs-empty" class="muted" hidden>No jobs match.</p>
  <button type="button" id="more-jobs" hidden>Load more</button>
</section>
<section id="charts">
  <h2>Last hour</h2>
  <div class="chart-grid">
    <figure><figcaption>Finished per minute, by kind</figcaption><div id="chart-throughput"></div></figure>
    <figure><figcaption>Failed per minute <span id="failure-rate"></span></figcaption><div id="chart-failures"></div></figure>
    <figure><figcaption>Queue depth and oldest due job</figcaption><div id="chart-queue"></div></figure>
    <figure><figcaption>Threads busy <span id="thread-use"></span></figcaption><div id="chart-threads"></div></figure>
  </div>
  <div id="legend" class="legend"></div>
</section>
<section id="upload-section">
  <h2>Upload a dataset</h2>
  <form id="upload-form">
    <input id="upload-file" type="file" accept=".csv,.ndjson,.jsonl,text/csv,application/x-ndjson" required aria-label="file">
    <input id="upload-name" placeholder="name (default: file name)" aria-label="name">
    <button>Upload</button>
  </form>
</section>
<section id="datasets-section">
  <h2>Datasets</h2>
  <table class="cards"><thead><tr><th>Name</th><th>Status</th><th>Rows</th><th>Columns</th><th>Export</th><th></th></tr></thead>
  <tbody id="datasets"></tbody></table>
  <div id="preview"></div>
</section>
<section id="exports-section">
  <h2>Exports</h2>
  <table class="cards"><thead><tr><th>Export</th><th>Dataset</th><th>Format</th><th>Status</th><th>Size</th><th>Expires</th><th></th></tr></thead>
  <tbody id="exports"></tbody></table>
</section>
<section id="schedules-section">
  <h2>Schedules</h2>
  <table class="cards"><thead><tr><th>Schedule</th><th>Kind</th><th>When</th><th>Next due</th><th>Last run</th><th>Runs</th><th>State</th><th></th></tr></thead>
  <tbody id="schedules"></tbody></table>
  <p id="schedules-empty" class="muted" hidden>No schedules (POST /schedules).</p>
</section>
<dialog id="detail" aria-labelledby="detail-title"><div id="detail-body"></div><form method="dialog"><button id="detail-close">Close</button></form></dialog>
<dialog id="confirm"><form method="dialog"><p id="confirm-text"></p><div class="actions"><button value="no">Keep</button><button value="yes" id="confirm-yes" class="danger">Confirm</button></div></form></dialog>
</body>
</html>
`;
