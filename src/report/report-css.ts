/** The report's whole stylesheet, inlined into the page. Mobile first: nothing is wider than the viewport. */
export const REPORT_CSS = `
:root{color-scheme:light;--fg:#111827;--muted:#4b5563;--line:#d1d5db;--bg:#fff;--panel:#f9fafb}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:1100px;margin:0 auto;padding:0 16px}
h1{font-size:1.5rem;margin:20px 0 8px;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin:28px 0 8px}
.note{color:var(--muted);margin:4px 0 12px}
code{background:var(--panel);padding:1px 4px;border-radius:4px;overflow-wrap:anywhere}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:8px;margin:0}
.summary div{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:8px 10px;min-width:0}
.summary dt{font-size:.8rem;color:var(--muted)}
.summary dd{margin:0;overflow-wrap:anywhere}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,360px),1fr));gap:16px}
figure{margin:0;min-width:0}
.chart-block{min-width:0}
.chart-data{margin-top:4px}
.chart-data summary{cursor:pointer;width:max-content;max-width:100%;color:var(--fg)}
.chart-data summary:focus-visible{outline:3px solid #2563eb;outline-offset:2px}
.chart-data table{margin-top:4px}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
figcaption{font-size:.85rem;color:var(--muted)}
svg.chart{width:100%;height:auto;display:block;background:var(--panel);border:1px solid var(--line);border-radius:8px}
svg .grid{stroke:#e5e7eb;stroke-width:1}
svg .tick{font-size:11px;fill:var(--muted)}
svg .legend{font-size:12px;fill:var(--fg)}
.scroll{max-width:100%;overflow-x:auto}
.scroll:focus-visible{outline:3px solid #2563eb;outline-offset:2px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:right}
th{background:var(--panel);text-align:left;font-weight:600}
table.confusion td{min-width:2.5rem;text-align:center}
td.text{text-align:left}
table.confusion td.right{font-weight:700}
table.confusion th span{display:inline-block;max-width:10rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom}
.corner{font-weight:400;color:var(--muted);font-size:.8rem}
.mistakes{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
.mistakes figure{border:1px solid var(--line);border-radius:8px;padding:6px;background:var(--panel)}
.mistakes img,.mistakes .missing{width:100%;aspect-ratio:1;object-fit:cover;display:block;border-radius:4px;background:#e5e7eb}
.mistakes .missing{display:flex;align-items:center;justify-content:center;font-size:2rem;color:var(--muted)}
.mistakes figcaption span{display:block;overflow-wrap:anywhere}
.mistakes .pred b{color:#b91c1c}
.mistakes .file{font-size:.75rem}
footer{color:var(--muted);font-size:.8rem;padding-top:24px;padding-bottom:24px}
@media (max-width:480px){th,td{padding:4px 5px}}
@media print{.scroll{overflow:visible}}
`;
