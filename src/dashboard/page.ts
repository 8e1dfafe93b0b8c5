/**
 * The dashboard's one page: HTML, CSS and script inline (allowed by a per-response nonce), charts
 * drawn as inline SVG, data from the `/events` server-sent event stream. Nothing is loaded from
 * anywhere else.
 */

const STYLE = `
:root { --bg:#0f1419; --panel:#172029; --line:#263440; --text:#d8e1e8; --dim:#7f8f9c; --ok:#4cc38a; --warn:#e5b454; --bad:#ef6461; --c1:#5aa9e6; --c2:#e5b454; --c3:#ef6461; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; gap: 24px; align-items: baseline; padding: 14px 20px; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
h1 { font-size: 16px; margin: 0; font-weight: 600; }
h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--dim); margin: 0 0 8px; font-weight: 600; }
.badge { padding: 2px 8px; border-radius: 10px; background: var(--line); font-weight: 600; }
.badge.ready { background: #1d4d36; color: var(--ok); } .badge.degraded, .badge.draining { background: #4d3f1d; color: var(--warn); }
.badge.failed, .badge.closed { background: #4d1f1d; color: var(--bad); }
.stat { color: var(--dim); } .stat b { color: var(--text); font-size: 15px; font-variant-numeric: tabular-nums; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 14px; padding: 14px 20px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--dim); font-weight: 500; }
svg { width: 100%; height: 160px; display: block; }
svg .grid { stroke: var(--line); stroke-width: 1; } svg text { fill: var(--dim); font-size: 10px; }
.legend span { margin-right: 12px; color: var(--dim); } .legend i { display: inline-block; width: 10px; height: 3px; margin-right: 4px; vertical-align: middle; }
.k1 { background: var(--c1); } .k2 { background: var(--c2); } .k3 { background: var(--c3); }
details { border-bottom: 1px solid var(--line); padding: 4px 0; } summary { cursor: pointer; }
pre { margin: 6px 0; padding: 8px; background: var(--bg); border-radius: 4px; overflow-x: auto; font-size: 12px; color: #f3b1ae; }
ul { list-style: none; margin: 0; padding: 0; max-height: 220px; overflow-y: auto; } li { padding: 2px 0; border-bottom: 1px solid var(--line); }
.time { color: var(--dim); margin-right: 8px; font-variant-numeric: tabular-nums; }
.empty { color: var(--dim); font-style: italic; }
.s-busy { color: var(--c1); } .s-ready { color: var(--ok); } .s-starting, .s-retiring, .s-stopping { color: var(--warn); } .s-exited { color: var(--bad); }
#conn { margin-left: auto; color: var(--dim); }
`;

const SCRIPT = `
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const bytes = (n) => n === undefined || n === null ? '-' : n >= 1073741824 ? (n / 1073741824).toFixed(2) + ' GiB' : (n / 1048576).toFixed(1) + ' MiB';
const dur = (ms) => ms < 1000 ? Math.round(ms) + ' ms' : ms < 60000 ? (ms / 1000).toFixed(1) + ' s' : ms < 3600000 ? Math.floor(ms / 60000) + ' min' : (ms / 3600000).toFixed(1) + ' h';
const clock = (t) => new Date(t).toLocaleTimeString();
const fmt = (v) => v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
const WINDOW = 120;
const C1 = '#5aa9e6', C2 = '#e5b454', C3 = '#ef6461';

function chart(svg, series, lines, unit) {
  const w = 600, h = 160, left = 44, bottom = 16, top = 8;
  const data = series.slice(-WINDOW);
  let max = 0;
  for (const p of data) for (const l of lines) max = Math.max(max, p[l.key]);
  max = max > 0 ? max * 1.1 : 1;
  const x = (i) => left + ((w - left) * (WINDOW - data.length + i)) / (WINDOW - 1);
  const y = (v) => top + (h - top - bottom) * (1 - v / max);
  let out = '';
  for (let g = 0; g <= 4; g++) {
    const v = (max * g) / 4, yy = y(v);
    out += '<line class="grid" x1="' + left + '" x2="' + w + '" y1="' + yy + '" y2="' + yy + '"/><text x="2" y="' + (yy + 3) + '">' + fmt(v) + unit + '</text>';
  }
  out += '<text x="' + left + '" y="' + (h - 2) + '">-' + WINDOW + ' s</text><text x="' + (w - 24) + '" y="' + (h - 2) + '">now</text>';
  for (const l of lines) {
    const pts = data.map((p, i) => x(i).toFixed(1) + ',' + y(p[l.key]).toFixed(1)).join(' ');
    out += '<polyline data-series="' + l.key + '" fill="none" stroke="' + l.color + '" stroke-width="1.8" points="' + pts + '"/>';
  }
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.innerHTML = out;
}

function render(s) {
  $('state').textContent = s.state; $('state').className = 'badge ' + s.state;
  $('adapter').textContent = s.adapter;
  const t = s.totals;
  $('calls-total').textContent = t.succeeded + t.failed;
  $('failed').textContent = t.failed;
  $('inflight').textContent = s.inFlight;
  $('queued').textContent = s.queued;
  $('peak').textContent = s.peakQueued;
  $('restarts').textContent = t.restarts;
  $('recycles').textContent = t.recycles;
  $('crashes').textContent = t.crashes;
  $('workers-count').textContent = s.workers.length + ' / ' + s.size;
  $('workers').innerHTML = s.workers.map((w) => '<tr data-worker="' + w.id + '"><td>' + w.id + '</td><td>' + esc(w.pid) + '</td><td class="s-' + esc(w.state) + '">' + esc(w.state) + '</td><td>' + bytes(w.rss) + '</td><td>' + w.inFlight + '</td><td>' + (w.heartbeatRtt === undefined || w.heartbeatRtt === null ? '-' : w.heartbeatRtt.toFixed(2) + ' ms') + '</td><td>' + dur(w.ageMs) + '</td><td>' + w.served + '</td></tr>').join('') || '<tr><td colspan="8" class="empty">no workers</td></tr>';
  const closed = s.series[s.series.length - 2]; // the last is the second under way
  $('rate').textContent = closed ? closed.calls : 0;
  chart($('chart-calls'), s.series, [{ key: 'calls', color: C1 }, { key: 'errors', color: C3 }], '');
  chart($('chart-latency'), s.series, [{ key: 'p50', color: C1 }, { key: 'p90', color: C2 }, { key: 'p99', color: C3 }], ' ms');
  $('errors').innerHTML = s.errors.slice().reverse().map((e, i) => '<details' + (i === 0 ? ' open' : '') + '><summary><span class="time">' + clock(e.time) + '</span><b>' + esc(e.code) + '</b> ' + esc(e.tool) + ' #' + e.requestId + (e.workerId !== undefined ? ' (worker ' + e.workerId + ')' : '') + ': ' + esc(String(e.message).split('\\n')[0]) + '</summary>' + (e.traceback ? '<pre>' + esc(e.traceback) + '</pre>' : '<pre>' + esc(e.message) + '</pre>') + '</details>').join('') || '<p class="empty">no errors</p>';
  $('sessions').innerHTML = s.sessions.map((x) => '<tr><td>' + esc(x.id) + '</td><td>' + esc(x.workerId ?? '-') + '</td><td>' + esc(x.pid ?? '-') + '</td><td>' + dur(x.ageMs) + '</td></tr>').join('') || '<tr><td colspan="4" class="empty">no open sessions</td></tr>';
  $('events').innerHTML = s.events.slice().reverse().map((e) => '<li><span class="time">' + clock(e.time) + '</span>' + esc(e.text) + '</li>').join('') || '<li class="empty">nothing yet</li>';
  $('updated').textContent = clock(s.time);
}

const source = new EventSource('events' + location.search);
source.addEventListener('snapshot', (e) => { render(JSON.parse(e.data)); $('conn').textContent = 'live, updated ' + $('updated').textContent; });
source.onerror = () => { $('conn').textContent = 'disconnected; retrying'; };
`;

/** The page, with `nonce` on its inline script and style. */
export function renderPage(nonce: string, interval: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Snakepit pool</title><link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style></head>
<body>
<header>
  <h1>Snakepit pool</h1><span id="state" class="badge">connecting</span><span class="stat" id="adapter"></span>
  <span class="stat">calls <b id="calls-total">0</b></span><span class="stat">failed <b id="failed">0</b></span>
  <span class="stat">calls/s <b id="rate">0</b></span><span class="stat">in flight <b id="inflight">0</b></span>
  <span class="stat">queued <b id="queued">0</b> (peak <span id="peak">0</span>)</span>
  <span class="stat">restarts <b id="restarts">0</b></span><span class="stat">recycles <b id="recycles">0</b></span><span class="stat">crashes <b id="crashes">0</b></span>
  <span id="conn">connecting (updates every ${interval} ms)</span><span id="updated" hidden></span>
</header>
<main>
  <section><h2>Calls per second</h2><div class="legend"><span><i class="k1"></i>settled</span><span><i class="k3"></i>failed</span></div><svg id="chart-calls" role="img" aria-label="calls per second"></svg></section>
  <section><h2>Latency percentiles (submission to settlement)</h2><div class="legend"><span><i class="k1"></i>p50</span><span><i class="k2"></i>p90</span><span><i class="k3"></i>p99</span></div><svg id="chart-latency" role="img" aria-label="latency percentiles"></svg></section>
  <section class="wide"><h2>Workers <span id="workers-count"></span></h2><table><thead><tr><th>id</th><th>pid</th><th>state</th><th>RSS</th><th>in flight</th><th>heartbeat RTT</th><th>age</th><th>served</th></tr></thead><tbody id="workers"></tbody></table></section>
  <section><h2>Recent errors</h2><div id="errors"></div></section>
  <section><h2>Restarts, recycles and state changes</h2><ul id="events"></ul></section>
  <section><h2>Open sessions</h2><table><thead><tr><th>session</th><th>worker</th><th>pid</th><th>age</th></tr></thead><tbody id="sessions"></tbody></table></section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body></html>
`;
}
