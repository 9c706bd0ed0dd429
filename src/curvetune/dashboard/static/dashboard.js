// curvetune dashboard: polls /api/poll once a second for what happened after the last
// seq it saw, then refreshes the table page and the learning curves of its rows. Newest
// trials first by default, so the running ones are on the first page.
"use strict";

const view = {
  sort: "id", order: "desc", filter: "", offset: 0, limit: 100,
  seq: 0, study: null, visible: [], curves: new Map(), rows: [],
};
const MAX_DECISIONS = 200;
const $ = (id) => document.getElementById(id);

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" && !Number.isInteger(value)) return value.toPrecision(4);
  return String(value);
}

// A report of step s replaces the points of steps >= s (as the study's log does).
function merge(points, step, value) {
  while (points.length && points[points.length - 1][0] >= step) points.pop();
  points.push([step, value]);
}

function renderStudy(s) {
  view.study = s;
  $("directory").textContent = s.directory;
  $("about").textContent =
    `${s.objective} · ${s.metric} (${s.mode}) · up to ${s.max_steps} steps per trial`;
  $("counts").textContent = `${s.total} trials: ` + Object.entries(s.counts)
    .filter(([, n]) => n > 0).map(([state, n]) => `${n} ${state}`).join(", ");
  $("best").textContent = s.best ? `· best #${s.best.id}: ${fmt(s.best.value)}` : "";
}

function renderHead() {
  const columns = [["id", "id"], ["state", "state"], ["step", "step"],
    ["value", view.study.metric], ...view.study.params.map((p) => [p, p]), [null, "reason"]];
  const tr = document.querySelector("#trials thead tr");
  tr.replaceChildren();
  for (const [key, label] of columns) {
    const th = document.createElement("th");
    const arrow = key === view.sort ? (view.order === "asc" ? " ▲" : " ▼") : "";
    th.textContent = label + arrow;
    if (key) {
      th.dataset.sort = key;
      th.addEventListener("click", () => sortBy(key));
    }
    tr.appendChild(th);
  }
}

function renderTable(page) {
  view.rows = page.rows;
  renderHead();
  const body = document.querySelector("#trials tbody");
  body.replaceChildren();
  for (const r of page.rows) {
    const tr = body.insertRow();
    tr.dataset.trial = r.id;
    cell(tr, `#${r.id}`, "num");
    cell(tr, r.state, `state-${r.state}`);
    cell(tr, r.step, "num");
    cell(tr, fmt(r.value), "num");
    for (const p of view.study.params) cell(tr, fmt(r.params[p]), "num");
    cell(tr, r.reason, "reason").title = r.reason;
  }
  const last = Math.min(page.offset + page.limit, page.total);
  $("trial-count").textContent = page.total
    ? `${page.offset + 1}–${last} of ${page.total}` : "no trials yet";
  $("prev").disabled = page.offset === 0;
  $("next").disabled = last >= page.total;
}

function drawCurves() {
  const traces = view.visible.filter((id) => view.curves.has(id)).map((id) => {
    const points = view.curves.get(id);
    return {
      type: "scatter", mode: "lines+markers", name: `#${id}`,
      x: points.map((p) => p[0]), y: points.map((p) => p[1]),
      line: { width: 1.5 }, marker: { size: 4 },
    };
  });
  const layout = {
    margin: { l: 50, r: 10, t: 10, b: 40 }, showlegend: traces.length <= 20,
    xaxis: { title: { text: "step" } }, yaxis: { title: { text: view.study.metric } },
    uirevision: "keep",
  };
  Plotly.react("curves", traces, layout, { displaylogo: false, responsive: true });
  document.body.dataset.points = traces.reduce((n, t) => n + t.x.length, 0);
}

function addDecisions(decisions) {
  const list = $("decisions");
  for (const d of decisions) {
    const li = document.createElement("li");
    li.className = d.kind;
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = d.kind;
    const until = d.until === null || d.until === undefined ? "" : ` until ${d.until}`;
    const reason = d.reason ? `: ${d.reason}` : "";
    li.append(`#${d.trial} `, kind, `${until}${reason}`);
    li.title = new Date(d.time * 1000).toLocaleTimeString();
    list.prepend(li);
  }
  while (list.children.length > MAX_DECISIONS) list.lastChild.remove();
}

async function loadStudy() {
  renderStudy(await getJSON("/api/study"));
}

async function loadPage() {
  const query = new URLSearchParams({
    sort: view.sort, order: view.order, state: view.filter,
    offset: view.offset, limit: view.limit,
  });
  const page = await getJSON(`/api/trials?${query}`);
  renderTable(page);
  view.visible = page.rows.map((r) => r.id);
  const missing = view.visible.filter((id) => !view.curves.has(id));
  if (missing.length) {
    const answer = await getJSON(`/api/curves?trials=${missing.join(",")}`);
    for (const [id, points] of Object.entries(answer.curves)) view.curves.set(Number(id), points);
  }
  for (const id of [...view.curves.keys()]) {
    if (!view.visible.includes(id)) view.curves.delete(id);
  }
  drawCurves();
}

async function poll() {
  const answer = await getJSON(`/api/poll?after=${view.seq}&trials=${view.visible.join(",")}`);
  if (answer.seq <= view.seq) return;
  for (const [id, points] of Object.entries(answer.points)) {
    const curve = view.curves.get(Number(id));
    if (curve) for (const [step, value] of points) merge(curve, step, value);
  }
  addDecisions(answer.decisions);
  view.seq = answer.seq;
  document.body.dataset.seq = answer.seq;
  await loadStudy();
  await loadPage();
}

function showStatus(error) {
  const status = $("status");
  status.classList.toggle("error", Boolean(error));
  status.textContent = error
    ? `cannot reach the dashboard server (${error.message}); retrying`
    : `live · event ${view.seq} · updated ${new Date().toLocaleTimeString()}`;
}

async function tick() {
  try {
    await poll();
    showStatus(null);
  } catch (error) {
    showStatus(error);
  }
  setTimeout(tick, 1000);
}

function sortBy(key) {
  if (view.sort === key) {
    view.order = view.order === "asc" ? "desc" : "asc";
  } else {
    view.sort = key;
    view.order = key === "value" && view.study.mode === "max" ? "desc" : "asc";
  }
  view.offset = 0;
  loadPage().catch(showStatus);
}

function move(delta) {
  view.offset = Math.max(0, view.offset + delta * view.limit);
  loadPage().catch(showStatus);
}

async function start() {
  $("prev").addEventListener("click", () => move(-1));
  $("next").addEventListener("click", () => move(1));
  $("state-filter").addEventListener("change", (event) => {
    view.filter = event.target.value;
    view.offset = 0;
    loadPage().catch(showStatus);
  });
  try {
    await loadStudy();
    await loadPage();
  } catch (error) {
    showStatus(error);
  }
  tick();
}

document.addEventListener("DOMContentLoaded", start);
