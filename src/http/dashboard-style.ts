// The dashboard's stylesheet, served at GET /dashboard.css: a file of its own so that the page's CSP needs no
// 'unsafe-inline' for styles. No style= attributes in the page's markup either; those would need it too. Colours
// are variables, switched by prefers-color-scheme; below 720 px each table row becomes a card (labels from
// data-label), so that nothing is wider than a 390 px screen.
export const DASHBOARD_CSS = `:root {
  font-family: system-ui, sans-serif; color-scheme: light dark;
  --fg: #1d2330; --muted: #5f6877; --bg: #f6f7f9; --card: #ffffff; --line: #dde1e7; --soft: #eef0f3;
  --ok: #1a7f37; --bad: #c4302b; --run: #0b63c4; --wait: #8a6100; --focus: #0b63c4;
  --k0: #0b63c4; --k1: #d9480f; --k2: #2b8a3e; --k3: #9c36b5; --k4: #c2255c; --k5: #1098ad; --k6: #5c940d; --k7: #e67700;
  color: var(--fg); background: var(--bg);
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e4e7ec; --muted: #9aa3b2; --bg: #12151b; --card: #1b2029; --line: #2c3340; --soft: #232935;
    --ok: #4cc26d; --bad: #ff6b63; --run: #5aa9ff; --wait: #e0b341; --focus: #8cc4ff;
    --k0: #5aa9ff; --k1: #ff8a4c; --k2: #5fd07a; --k3: #d58cf0; --k4: #ff7aa8; --k5: #4fd3e6; --k6: #a6dd45; --k7: #ffb84d;
  }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1320px; padding: .5rem 1.5rem 3rem; background: var(--bg); }
h1 { font-size: 1.4rem; margin: .5rem 0; display: flex; align-items: center; gap: .5rem; }
h2 { font-size: 1.1rem; margin: .25rem 0 .75rem; }
h3 { font-size: .95rem; margin: 1rem 0 .4rem; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; }
.top nav { display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
a { color: var(--run); }
.live { margin-left: auto; font-size: .85rem; color: var(--muted); }
.live.on { color: var(--ok); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; margin-bottom: 1rem; min-width: 0; }
table { width: 100%; border-collapse: collapse; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .4rem; border-bottom: 1px solid var(--soft); vertical-align: middle; overflow-wrap: anywhere; }
th { font-weight: 600; color: var(--muted); }
code { font-size: .8rem; }
progress { width: 8rem; max-width: 100%; }
button, select, input { font: inherit; font-size: .85rem; color: inherit; max-width: 100%; }
button, select, input:not([type=checkbox]) { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .3rem .6rem; }
button { cursor: pointer; }
button:hover { border-color: var(--run); }
button.danger { color: var(--bad); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.status-succeeded, .status-ready { color: var(--ok); }
.status-failed, .status-cancelled { color: var(--bad); }
.status-running, .status-importing { color: var(--run); }
.status-pending, .status-scheduled, .status-retried, .status-released, .status-paused { color: var(--wait); }
.status-active { color: var(--ok); }
button.link { background: none; border: none; padding: 0; color: inherit; text-decoration: underline; cursor: pointer; }
.error { color: var(--bad); font-size: .8rem; }
.muted { color: var(--muted); }
#message { min-height: 1.2rem; color: var(--bad); }
form { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
.filters { margin: .5rem 0; align-items: end; }
.filters label { display: flex; flex-direction: column; gap: .15rem; font-size: .8rem; color: var(--muted); min-width: 0; }
.filters .grow { flex: 1 1 14rem; }
.tabs { display: flex; flex-wrap: wrap; gap: .35rem; }
.tab[aria-pressed=true] { background: var(--run); border-color: var(--run); color: #fff; }
.count { font-variant-numeric: tabular-nums; opacity: .8; }
.bulk, .actions { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; }
.bulk { margin-bottom: .5rem; }
td.columns { font-size: .8rem; }
.chart-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: 1rem; }
figure { margin: 0; min-width: 0; }
figcaption { font-size: .85rem; color: var(--muted); margin-bottom: .25rem; }
.chart { width: 100%; height: auto; display: block; }
.chart .axis { stroke: var(--line); }
.chart .tick { fill: var(--muted); font-size: 11px; }
.chart .line { fill: none; stroke: var(--run); stroke-width: 2; }
.legend { display: flex; flex-wrap: wrap; gap: .75rem; font-size: .8rem; margin-top: .5rem; }
.swatch { display: inline-block; width: .7rem; height: .7rem; border-radius: 2px; margin-right: .3rem; background: var(--k0); }
${Array.from({ length: 8 }, (_, i) => `.bar.k${i} { fill: var(--k${i}); } .swatch.k${i} { background: var(--k${i}); }`).join('\n')}
meter { width: 6rem; max-width: 100%; }
.scroll-x { overflow-x: auto; max-width: 100%; }
table.preview td, table.preview th { white-space: nowrap; overflow-wrap: normal; }
pre.json { background: var(--soft); padding: .5rem; border-radius: 6px; overflow: auto; max-height: 16rem; font-size: .8rem; white-space: pre-wrap; overflow-wrap: anywhere; }
dialog { background: var(--card); color: var(--fg); border: 1px solid var(--line); border-radius: 10px; width: min(900px, calc(100vw - 1rem)); max-height: calc(100vh - 2rem); padding: 1rem; }
dialog::backdrop { background: rgb(0 0 0 / 45%); }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; font-size: .9rem; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; }
#confirm { width: min(480px, calc(100vw - 1rem)); }
@media (max-width: 720px) {
  body { padding: .5rem .5rem 2rem; }
  section { padding: .6rem; }
  table.cards thead { display: none; }
  table.cards, table.cards tbody, table.cards tr, table.cards td { display: block; width: 100%; }
  table.cards tr { border: 1px solid var(--line); border-radius: 6px; margin-bottom: .5rem; padding: .25rem .5rem; }
  table.cards td { border: 0; padding: .2rem 0; }
  table.cards td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-size: .8rem; }
  .chart-grid { grid-template-columns: 1fr; }
}
`;
