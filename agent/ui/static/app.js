// The evolve memory dashboard: a small hash-routed page over the JSON API (no build step, no libraries).
// Every memory text is inserted as text, never as HTML.
"use strict";

const state = { overview: null, selected: null };
const COLORS = ["#2f6fdb", "#2e9d5b", "#d98a1c", "#8e44ad", "#c0392b", "#16a085"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`);
const num = (x, d = 2) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));
const kindTag = (kind) => el("span", { class: `kind ${kind}` }, kind);

// -- header and filters ----------------------------------------------------------------------------------
async function loadOverview() {
  const o = await api("/api/overview");
  state.overview = o;
  const byKind = Object.entries(o.stats.by_kind)
    .map(([k, s]) => `${k} ${s.active || 0}`).join(" · ");
  document.getElementById("bank").textContent =
    `${o.stats.path} — ${o.stats.active} active of ${o.stats.total} (${byKind || "empty"}) — now ${o.now} UTC`;
  const mode = document.getElementById("mode");
  mode.textContent = o.allow_edits ? "edits allowed" : "read-only";
  mode.className = o.allow_edits ? "badge edits" : "badge";
  fillSelect("kind", o.kinds, "every kind");
  fillSelect("namespace", o.namespaces, "every namespace");
  fillSelect("status", o.statuses, null, "active");
}

function fillSelect(id, values, anyLabel, chosen) {
  const select = document.getElementById(id);
  select.replaceChildren();
  if (anyLabel) select.append(el("option", { value: "" }, anyLabel));
  for (const v of values) select.append(el("option", { value: v, selected: v === chosen }, v));
  if (!anyLabel) select.append(el("option", { value: "" }, "any status"));
}

// -- memories ------------------------------------------------------------------------------------------------
async function runSearch() {
  const params = new URLSearchParams();
  for (const id of ["q", "kind", "namespace", "status"]) {
    const value = document.getElementById(id).value;
    params.set(id, value);
  }
  const results = document.getElementById("results");
  results.replaceChildren(el("p", { class: "muted" }, "searching…"));
  try {
    const data = await api(`/api/memories?${params}`);
    renderResults(data);
  } catch (err) {
    results.replaceChildren(el("p", { class: "error" }, err.message));
  }
}

function renderResults(data) {
  const results = document.getElementById("results");
  const header = el("p", { class: "muted", id: "result-count" },
    data.query ? `${data.count} memories for “${data.query}”` : `${data.count} newest memories`);
  if (!data.results.length) {
    results.replaceChildren(header, el("p", {}, "Nothing found."));
    return;
  }
  const rows = data.results.map((m) => el("tr", {
    class: `hit${m.id === state.selected ? " selected" : ""}`, "data-id": m.id,
    onclick: () => { location.hash = `#/memory/${m.id}`; },
  },
  el("td", {}, kindTag(m.kind), el("div", { class: "id" }, m.created)),
  el("td", { class: `text status-${m.status}` }, m.text.length > 180 ? `${m.text.slice(0, 179)}…` : m.text,
    m.pinned ? " 📌" : "", m.flagged ? el("span", { class: "flagged", title: m.flagged }, " ⚠ flagged") : ""),
  el("td", {}, pct(m.retention)), el("td", {}, pct(m.utility)),
  el("td", {}, m.score === undefined ? "" : num(m.score))));
  results.replaceChildren(header, el("table", { id: "result-table" },
    el("thead", {}, el("tr", {}, el("th", {}, "kind"), el("th", {}, "memory"), el("th", {}, "retention"),
      el("th", {}, "utility"), el("th", {}, "score"))),
    el("tbody", {}, rows)));
}

function chainNode(node) {
  const sources = node.source_ids.map((s) => el("span", { class: "source" }, s));
  const where = node.thread ? el("span", { class: "source" }, `${node.thread} #${node.seq}`) : null;
  const episode = node.episode_id ? el("span", { class: "source" }, `episode ${node.episode_id}`) : null;
  const item = el("li", { "data-id": node.id },
    kindTag(node.kind), " ", el("a", { class: "memlink", href: `#/memory/${node.id}` }, node.id), " ",
    el("span", { class: "muted" }, node.created), node.status !== "active" ? ` (${node.status})` : "",
    el("div", { class: "text" }, node.text),
    el("div", {}, sources, where, episode),
    node.missing.length ? el("div", { class: "error" }, `missing: ${node.missing.join(", ")}`) : null,
    node.truncated ? el("div", { class: "muted" }, "… (chain continues)") : null);
  if (node.children.length) item.append(el("ul", { class: "chain" }, node.children.map(chainNode)));
  return item;
}

function lineChart(series, { yMax = 1, yLabel = "", xFormat = (x) => x, threshold = null, nowX = null } = {}) {
  const W = 640, H = 220, L = 40, R = 10, T = 10, B = 30;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const sx = (x) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y) => T + (1 - y / (yMax || 1)) * (H - T - B);
  const svg = svgEl("svg", { class: "chart", viewBox: `0 0 ${W} ${H}` });
  svg.append(svgEl("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#ccc" }));
  svg.append(svgEl("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#ccc" }));
  for (const f of [0, 0.5, 1]) {
    svg.append(svgEl("text", { x: 4, y: sy(f * yMax) + 3 }, yMax === 1 ? `${f * 100}%` : Math.round(f * yMax)));
  }
  svg.append(svgEl("text", { x: L, y: H - 8 }, xFormat(x0)));
  svg.append(svgEl("text", { x: W - R - 90, y: H - 8 }, xFormat(x1)));
  if (yLabel) svg.append(svgEl("text", { x: L + 4, y: T + 10 }, yLabel));
  if (threshold !== null) {
    svg.append(svgEl("line", { x1: L, x2: W - R, y1: sy(threshold), y2: sy(threshold), stroke: "#b3261e",
      "stroke-dasharray": "4 3" }));
  }
  if (nowX !== null && nowX >= x0 && nowX <= x1) {
    svg.append(svgEl("line", { x1: sx(nowX), x2: sx(nowX), y1: T, y2: H - B, stroke: "#999", "stroke-dasharray": "2 2" }));
    svg.append(svgEl("text", { x: sx(nowX) + 3, y: T + 10 }, "now"));
  }
  series.forEach((s, i) => {
    const d = s.points.map((p, j) => (j === 0 ? `M${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`
      : s.step ? `H${sx(p[0]).toFixed(1)} V${sy(p[1]).toFixed(1)}` : `L${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)).join(" ");
    svg.append(svgEl("path", { d, fill: "none", stroke: s.color || COLORS[i % COLORS.length], "stroke-width": 2,
      "stroke-dasharray": i % 2 ? "6 3" : "none" }));
    if (s.points.length < 30) {
      for (const p of s.points) {
        svg.append(svgEl("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 3, fill: s.color || COLORS[i % COLORS.length] }));
      }
    }
  });
  const legend = el("div", { class: "legend" }, series.map((s, i) =>
    el("span", {}, el("i", { style: `background:${s.color || COLORS[i % COLORS.length]}` }), s.name)));
  return el("div", {}, svg, legend);
}

const day = (t) => new Date(t * 1000).toISOString().slice(0, 10);

async function showMemory(id) {
  state.selected = id;
  document.querySelectorAll("tr.hit").forEach((tr) => tr.classList.toggle("selected", tr.dataset.id === id));
  const panel = document.getElementById("detail");
  panel.className = "panel";
  panel.replaceChildren(el("p", { class: "muted" }, "loading…"));
  let d;
  try {
    d = await api(`/api/memories/${encodeURIComponent(id)}`);
  } catch (err) {
    panel.replaceChildren(el("p", { class: "error", id: "detail-error" }, err.message));
    return;
  }
  const m = d.memory;
  const edits = state.overview && state.overview.allow_edits;
  const button = (action, label, enabled) => el("button", {
    "data-action": action, disabled: !edits || !enabled,
    title: edits ? "" : "read-only: restart the dashboard with --allow-edits",
    onclick: () => edit(m.id, action),
  }, label);
  panel.replaceChildren(
    el("div", {}, kindTag(m.kind), " ", el("span", { class: "id", id: "detail-id" }, m.id), " ",
      el("span", { class: "muted" }, `${m.namespace} · ${m.status}${m.pinned ? " · pinned" : ""}` +
        `${m.origin ? ` · from ${m.origin}` : ""}`)),
    el("div", { class: "memtext", id: "detail-text" }, m.text),
    m.flagged ? el("div", { class: "flagged", id: "detail-flagged" },
      `Flagged: this text reads as an instruction to the model (${m.flagged}); it is never promoted to a rule.`) : "",
    el("div", { class: "actions" },
      button("forget", "Forget", m.status !== "archived"), button("pin", "Pin", !m.pinned),
      button("unpin", "Unpin", m.pinned), button("restore", "Restore", m.status === "archived"),
      el("span", { class: "note", id: "edit-note" }, edits ? "" : "read-only: edits need --allow-edits")),
    el("dl", { class: "fields" },
      ...[["created", m.created], ["last recalled", m.last_recalled || "never"], ["recalls", m.recall_count],
        ["strength", `${num(m.strength, 1)} days`], ["retention now", pct(m.retention)],
        ["utility", `${pct(m.utility)} (${m.utility_count} reports)`], ["importance", num(m.importance)],
        ["votes", m.votes], ["thread", m.thread ? `${m.thread} #${m.seq}` : "–"],
        ["episode", m.episode_id || "–"], ["source ids", m.source_ids.join(", ") || "–"],
        ["archived", m.archived ? `${m.archived}: ${m.archive_reason}` : "–"],
        ["context", m.context || "–"]].flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))])),
    el("h3", {}, "Where it came from"),
    el("ul", { class: "chain", id: "evidence" }, chainNode(d.evidence)),
    el("h3", {}, `Made into (${d.derived.length})`),
    el("ul", { id: "derived" }, d.derived.length ? d.derived.map((r) => el("li", {}, kindTag(r.kind), " ",
      el("a", { class: "memlink", href: `#/memory/${r.id}` }, r.text))) : el("li", { class: "muted" }, "nothing yet")),
    el("h3", {}, "Retention over time"),
    el("p", { class: "note" }, d.curves.decays
      ? "The forgetting curve it is on now (from its last recall, at its current strength); below the red line it is forgotten."
      : `Retention only weighs its rank: ${m.pinned ? "pinned memories" : `${m.kind} memories`} are not forgotten by decay.`),
    lineChart([{ name: "retention", points: d.curves.retention }],
      { xFormat: day, threshold: d.curves.decays ? d.curves.threshold : null, nowX: d.curves.now }),
    el("h3", {}, "Utility over time"),
    d.curves.utility.length > 1
      ? lineChart([{ name: "utility (smoothed success of the episodes that used it; log time)", points: d.curves.utility,
        color: "#2e9d5b", step: true }], { xFormat: day })
      : el("p", { class: "note", id: "utility-note" }, "No outcomes reported yet: utility is the prior 50%."),
    el("h3", {}, "History"),
    el("table", { id: "history" }, el("thead", {}, el("tr", {}, ["#", "when (UTC)", "operation", "by", "why", "change"]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, d.history.map((h) => el("tr", {}, el("td", {}, h.seq), el("td", {}, h.time), el("td", {}, h.op),
      el("td", {}, h.actor), el("td", {}, h.reason),
      el("td", { class: "text" }, h.after ? JSON.stringify(h.after) : ""))))));
}

async function edit(id, action) {
  const note = document.getElementById("edit-note");
  try {
    await api(`/api/memories/${encodeURIComponent(id)}/${action}`,
      { method: "POST", headers: { "X-Evolve-Dashboard": "1" } });
    await showMemory(id);
    await loadOverview();
  } catch (err) {
    note.textContent = err.message;
    note.className = "note error";
  }
}

// -- retention and runs --------------------------------------------------------------------------------------
async function showRetention() {
  const r = await api("/api/retention");
  const kinds = Object.keys(r.forecast);
  const max = Math.max(1, ...kinds.flatMap((k) => r.forecast[k]));
  document.getElementById("forecast").replaceChildren(kinds.length ? lineChart(
    kinds.map((k) => ({ name: k, points: r.days.map((d, i) => [d, r.forecast[k][i]]) })),
    { yMax: max, yLabel: "memories", xFormat: (x) => `+${x} days` }) : el("p", { class: "muted" }, "No memories."));
  const rows = kinds.map((k) => el("tr", {}, el("td", {}, kindTag(k)),
    r.histogram[k].map((n) => el("td", {}, n))));
  document.getElementById("histogram").replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, "kind"), [...Array(10).keys()].map((i) => el("th", {}, `${i * 10}–${i * 10 + 10}%`)))),
    el("tbody", {}, rows)));
  document.getElementById("utility").replaceChildren(r.utility.length ? el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, "day"), el("th", {}, "mean outcome"), el("th", {}, "reports"))),
    el("tbody", {}, r.utility.map((u) => el("tr", {}, el("td", {}, u.day), el("td", {}, pct(u.mean_outcome)),
      el("td", {}, u.reports))))) : el("p", { class: "muted" }, "No outcomes reported yet."));
}

async function showRuns() {
  const data = await api("/api/runs");
  const box = document.getElementById("runs");
  if (!data.runs.length) {
    box.replaceChildren(el("p", { class: "muted" }, `No runs with results.json or figures under ${data.runs_dir}.`));
    return;
  }
  box.replaceChildren(...data.runs.map((run) => {
    const s = run.summary;
    const tables = s && s.tables ? Object.entries(s.tables).map(([setting, rows]) => el("div", {},
      el("h3", {}, `held-out: ${setting}`),
      el("table", { class: "results" }, el("thead", {}, el("tr", {}, ["run", "episodes", "success (95% CI)", "score", "steps"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, el("td", {}, r.name), el("td", {}, r.episodes),
        el("td", {}, `${pct(r.success)} (${pct(r.success_ci && r.success_ci[0])}–${pct(r.success_ci && r.success_ci[1])})`),
        el("td", {}, num(r.score)), el("td", {}, num(r.steps, 1)))))))) : [];
    return el("div", { class: "panel run", "data-run": run.name },
      el("h2", {}, run.name, s && s.env_id ? el("span", { class: "muted" }, ` — ${s.env_id} (${s.preset}), ${s.train_tasks} training tasks, ${num(s.wall_seconds, 0)} s`) : ""),
      s && s.error ? el("p", { class: "error" }, s.error) : null,
      tables,
      run.pngs.map((p) => el("img", { class: "figure", src: `/runs/${encodeURIComponent(run.name)}/${encodeURIComponent(p)}`, alt: p })));
  }));
}

// -- routing -------------------------------------------------------------------------------------------------
function showTab(name) {
  for (const tab of ["memories", "retention", "runs"]) {
    document.getElementById(`tab-${tab}`).hidden = tab !== name;
  }
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.tab === name));
}

async function route() {
  const hash = location.hash || "#/memories";
  if (hash.startsWith("#/memory/")) {
    showTab("memories");
    await showMemory(decodeURIComponent(hash.slice("#/memory/".length)));
  } else if (hash === "#/retention") {
    showTab("retention");
    await showRetention();
  } else if (hash === "#/runs") {
    showTab("runs");
    await showRuns();
  } else {
    showTab("memories");
  }
}

document.getElementById("search").addEventListener("submit", (event) => {
  event.preventDefault();
  runSearch();
});
window.addEventListener("hashchange", route);
(async () => {
  try {
    await loadOverview();
    await runSearch();
    await route();
  } catch (err) {
    document.getElementById("bank").replaceChildren(el("span", { class: "error" }, err.message));
  }
  document.body.dataset.ready = "1";
})();
