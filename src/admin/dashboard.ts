/**
 * `GET /` on the admin server (DESIGN section 7): one page for an operator, no build step and no
 * assets. It reads what the admin API already serves: live decisions (`/v1/decisions`), incidents
 * (`/v1/incidents`), both every 5 s, and the live feed (`/v1/stream`). Everything it shows is
 * attacker-influenced text (paths, details, user names), so the page writes it with textContent
 * only, and a Content-Security-Policy with a per-response nonce allows this page's own script and
 * nothing else: no inline handlers, no other origin, no framing.
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";

export function serveDashboard(res: ServerResponse): void {
  const nonce = randomBytes(16).toString("base64");
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
  res.end(page(nonce));
}

function page(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Gatehouse</title>
<style nonce="${nonce}">
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }
h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
th { background: #f3f3f3; }
td { font-family: ui-monospace, monospace; font-size: 12.5px; word-break: break-all; }
.muted { color: #666; }
#status.down { color: #b00020; }
.success { color: #b00020; font-weight: 600; }
</style>
</head>
<body>
<h1>Gatehouse</h1>
<div class="muted">this replica's admin API; <span id="status">connecting…</span></div>
<h2>Live feed <span class="muted">(newest first, last 200)</span></h2>
<table><thead><tr><th>time</th><th>kind</th><th>what</th></tr></thead><tbody id="feed"></tbody></table>
<h2>Decisions</h2>
<table><thead><tr><th>action</th><th>scope</th><th>value</th><th>until</th><th>origin</th><th>id</th></tr></thead><tbody id="decisions"></tbody></table>
<h2>Incidents</h2>
<table><thead><tr><th>outcome</th><th>actor</th><th>events</th><th>attacks</th><th>last seen</th><th>id</th></tr></thead><tbody id="incidents"></tbody></table>
<script nonce="${nonce}">
"use strict";
const $ = (id) => document.getElementById(id);
function row(cells, cls) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = c == null ? "" : String(c);
    tr.appendChild(td);
  }
  if (cls) tr.className = cls;
  return tr;
}
function fill(id, rows) {
  const body = $(id);
  body.replaceChildren(...rows);
}
function actorText(a) {
  if (!a || typeof a !== "object") return "";
  return a.user ? "user " + a.user : a.ip ? "ip " + a.ip : a.scope ? a.scope + " " + a.value : JSON.stringify(a);
}
function describe(kind, d) {
  switch (kind) {
    case "event": return d.detectionPoint + " " + d.outcome + " from " + actorText(d.actor) + (d.request ? " on " + d.request.method + " " + d.request.path : "") + (d.detail ? ": " + d.detail : "");
    case "attack": return (d.detectionPoint || d.rule) + " attack #" + d.count + " by " + actorText(d.actor) + ", response " + d.response + (d.mode === "shadow" ? " (shadow)" : "");
    case "breach": return "breach " + d.detectionPoint + ": " + (d.evidence || []).map((e) => e.kind + " " + e.detail).join("; ");
    case "decision": return d.action + " " + d.scope + " " + d.value + " until " + new Date(d.until).toISOString();
    case "incident": return "incident " + d.id + " " + d.outcome + " " + actorText(d.actor);
    case "dropped": return d.count + " messages missed (the page fell behind)";
    default: return JSON.stringify(d);
  }
}
const feed = [];
function show(kind, data) {
  feed.unshift(row([new Date().toISOString().slice(11, 23), kind, describe(kind, data)], kind === "breach" ? "success" : ""));
  if (feed.length > 200) feed.length = 200;
  fill("feed", feed);
}
const source = new EventSource("/v1/stream");
for (const kind of ["event", "attack", "breach", "decision", "incident", "dropped"]) {
  source.addEventListener(kind, (m) => { try { show(kind, JSON.parse(m.data)); } catch {} });
}
source.onopen = () => { $("status").textContent = "live"; $("status").className = ""; };
source.onerror = () => { $("status").textContent = "feed disconnected, retrying"; $("status").className = "down"; };
async function refresh() {
  try {
    const [d, i] = await Promise.all([fetch("/v1/decisions").then((r) => r.json()), fetch("/v1/incidents?limit=50").then((r) => r.json())]);
    fill("decisions", (d.decisions || []).map((x) => row([x.action, x.scope, x.value, new Date(x.until).toISOString(), x.origin, x.id])));
    fill("incidents", (i.incidents || []).map((x) => row([x.outcome, actorText(x.actor), x.events, x.attacks, x.lastSeen, x.id], x.outcome === "success" ? "success" : "")));
  } catch {}
}
refresh();
setInterval(refresh, 5000);
</script>
</body>
</html>
`;
}
