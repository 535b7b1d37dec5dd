// The status page: fetches /api/status, draws the shard table, the last
// transitions and the statechart, and refreshes on every server-sent
// transition (debounced) and once a second for the time-in-state column.
"use strict";

const $ = (sel) => document.querySelector(sel);
const maxRecent = 40;
let chartKey = null;
let haveSVG = null;
let refreshTimer = null;
let lastStates = new Map();

function fmtDuration(sec) {
  if (sec < 1) return (sec * 1000).toFixed(0) + " ms";
  if (sec < 120) return sec.toFixed(1) + " s";
  if (sec < 7200) return (sec / 60).toFixed(1) + " min";
  return (sec / 3600).toFixed(1) + " h";
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function renderInstance(doc) {
  const i = doc.instance;
  const box = $("#instance");
  box.replaceChildren(
    "instance ", el("span", { class: "state " + i.state, id: "instance-state" }, i.state),
    " for " + fmtDuration(i.in_state_seconds) + " · link ",
    el("b", { id: "link" }, i.link_up ? "up" : "down"),
    " · budget " + i.attempts_left + "/" + i.cap,
    i.exhausted ? el("span", { class: "exhausted" }, " · exhausted") : "",
    i.last_error ? el("span", { class: "muted" }, " · " + i.last_error) : "");
}

function renderShards(doc) {
  const body = $("#shards tbody");
  const rows = [];
  let up = 0;
  for (const s of doc.shards || []) {
    if (s.state === "Connected") up++;
    const changed = lastStates.has(s.id) && lastStates.get(s.id) !== s.state;
    lastStates.set(s.id, s.state);
    const tr = el("tr", { id: "shard-" + s.id, "data-state": s.state, class: changed ? "changed" : "" },
      el("td", {}, s.id),
      el("td", {}, s.endpoint || "—"),
      el("td", {}, el("span", { class: "state " + s.state }, s.state)),
      el("td", {}, fmtDuration(s.in_state_seconds)),
      el("td", {}, s.lag || "—"),
      el("td", { class: "recoveries" }, s.recoveries),
      el("td", { class: "full-syncs" }, s.full_syncs),
      el("td", {}, s.partial_syncs),
      el("td", { class: s.exhausted ? "exhausted" : "" }, s.attempts_left + "/" + s.cap + (s.exhausted ? " exhausted" : "")),
      el("td", { class: "err" }, s.last_error || ""));
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  $("#summary").textContent = up + " of " + (doc.shards || []).length + " connected";
}

function recentItem(e, isNew) {
  const t = new Date(e.time);
  return el("li", { class: (isNew ? "new " : "") + "to-" + e.to },
    el("span", { class: "t" }, t.toLocaleTimeString()), e.line);
}

function renderRecent(doc) {
  const items = (doc.recent || []).slice(-maxRecent).reverse().map((e) => recentItem(e, false));
  $("#recent").replaceChildren(...items);
}

async function renderChart(doc) {
  if (doc.chart_key === chartKey && haveSVG === doc.have_svg) return;
  const box = $("#chart");
  if (doc.have_svg) {
    const res = await fetch("/api/chart.svg", { cache: "no-store" });
    if (!res.ok) { box.textContent = "statechart: " + (await res.text()); return; }
    const text = await res.text();
    const at = text.indexOf("<svg");
    box.innerHTML = at >= 0 ? text.slice(at) : text; // the binary's own dot output
  } else {
    const res = await fetch("/api/chart.mmd", { cache: "no-store" });
    box.replaceChildren(el("p", { class: "muted" }, "Graphviz is not installed on the server; the Mermaid source with live counts:"),
      el("pre", {}, await res.text()));
  }
  chartKey = doc.chart_key;
  haveSVG = doc.have_svg;
  box.setAttribute("data-chart-key", chartKey);
}

async function refresh() {
  refreshTimer = null;
  try {
    const res = await fetch("/api/status", { cache: "no-store" });
    if (!res.ok) return;
    const doc = await res.json();
    renderInstance(doc);
    renderShards(doc);
    renderRecent(doc);
    await renderChart(doc);
    document.body.setAttribute("data-refreshed", String(Date.now()));
  } catch (err) {
    $("#live").textContent = "○ status unavailable";
  }
}

function scheduleRefresh(ms) {
  if (refreshTimer === null) refreshTimer = setTimeout(refresh, ms);
}

function connect() {
  const es = new EventSource("/events");
  es.onopen = () => { const l = $("#live"); l.textContent = "● live"; l.className = "live on"; };
  es.onerror = () => { const l = $("#live"); l.textContent = "○ reconnecting"; l.className = "live"; };
  es.addEventListener("transition", (m) => {
    const e = JSON.parse(m.data);
    const list = $("#recent");
    list.prepend(recentItem(e, true));
    while (list.children.length > maxRecent) list.lastChild.remove();
    scheduleRefresh(150);
  });
}

refresh();
connect();
setInterval(() => scheduleRefresh(0), 1000);
