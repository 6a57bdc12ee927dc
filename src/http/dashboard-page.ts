// The dashboard served at GET /. Its script and stylesheet are compiled in too (dashboard-script.ts,
// dashboard-style.ts) and served as files of their own, so that the page's CSP allows no inline code at all; there
// are still no assets to ship beside the binary. It holds no data of its own; everything comes from the JSON API
// with the token the user types in, if any.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>offload</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
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
</body>
</html>
`;
