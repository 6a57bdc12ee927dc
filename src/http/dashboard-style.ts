// The dashboard's stylesheet, served at GET /dashboard.css: a file of its own so that the page's CSP needs no
// 'unsafe-inline' for styles. No style= attributes in the page's markup either; those would need it too.
export const DASHBOARD_CSS = `:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
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
`;
