// Metric definitions and their evaluation results over time (a small chart per metric, then every result).
import { $, api, el, listAll, page, svgEl, when } from "./core.js";

const W = 360;
const H = 80;
const PAD = 14;

function numeric(value) {
  if (typeof value === "boolean") return value ? 1 : 0;
  return typeof value === "number" ? value : null;
}

// Points over time: x by created_at, y by the value (true = 1, false = 0); categorical values are counted instead.
function chart(name, rows) {
  const points = rows.map((r) => ({ t: Date.parse(r.created_at), v: numeric(r.result), r })).filter((p) => p.v !== null);
  const box = el("div", { class: "metric-chart", dataset: { metric: rows[0].metric_id } }, el("h4", {}, name));
  if (!points.length) {
    const counts = {};
    for (const r of rows) counts[String(r.result)] = (counts[String(r.result)] || 0) + 1;
    box.append(el("p", { class: "muted" }, Object.entries(counts).map(([k, n]) => `${k}: ${n}`).join(" · ")));
    return box;
  }
  const t0 = Math.min(...points.map((p) => p.t));
  const t1 = Math.max(...points.map((p) => p.t));
  const v0 = Math.min(0, ...points.map((p) => p.v));
  const v1 = Math.max(1, ...points.map((p) => p.v));
  const x = (t) => PAD + (t1 === t0 ? (W - 2 * PAD) / 2 : ((t - t0) / (t1 - t0)) * (W - 2 * PAD));
  const y = (v) => H - PAD - ((v - v0) / (v1 - v0)) * (H - 2 * PAD);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" },
    svgEl("title", {}, `${name}: ${points.length} results from ${when(new Date(t0).toISOString())} to ${when(new Date(t1).toISOString())}`),
    svgEl("line", { x1: PAD, x2: W - PAD, y1: y(v0), y2: y(v0), class: "axis" }),
    svgEl("text", { x: 2, y: y(v1) + 4, class: "tick" }, String(v1)),
    svgEl("text", { x: 2, y: y(v0) - 2, class: "tick" }, String(v0)),
    svgEl("polyline", { points: points.map((p) => `${x(p.t)},${y(p.v)}`).join(" "), class: "trend" }),
    points.map((p) => svgEl("circle", { cx: x(p.t), cy: y(p.v), r: 4, class: "point" },
      svgEl("title", {}, `${when(p.r.created_at)}: ${JSON.stringify(p.r.result)}`))));
  const mean = points.reduce((a, p) => a + p.v, 0) / points.length;
  box.append(svg, el("p", { class: "muted" }, `${points.length} results · mean ${Math.round(mean * 100) / 100}`));
  return box;
}

page(async () => {
  const metrics = await listAll("/metric/?limit=50", "metrics");
  const names = Object.fromEntries(metrics.map((m) => [m.id, m.name]));
  const box = $("#metrics");
  box.append(metrics.length ? el("ul", { class: "list" }, metrics.map((m) => el("li", {}, el("strong", {}, m.name),
    ` · ${m.metric_value_type}`, m.additional_notes ? ` — ${m.additional_notes}` : ""))) : el("p", { class: "muted" }, "No metric yet."));
  const results = await api.get("/metric/metric_evaluation_result?limit=500&sort_by=-created_at");
  const rows = results.metric_evaluation_results;
  const byMetric = {};
  for (const r of [...rows].reverse()) (byMetric[r.metric_id] ||= []).push(r);
  const charts = el("div", { class: "charts" }, Object.entries(byMetric).map(([id, list]) => chart(names[id] || id, list)));
  const table = el("table", { class: "table" }, el("thead", {}, el("tr", {}, el("th", {}, "When"), el("th", {}, "Metric"),
    el("th", {}, "Result"), el("th", {}, "Source"), el("th", {}, "Justification"))),
  el("tbody", {}, rows.map((r) => el("tr", { class: "result" }, el("td", {}, when(r.created_at)),
    el("td", {}, `${names[r.metric_id] || r.metric_id} v${r.metric_version}`), el("td", {}, JSON.stringify(r.result)),
    el("td", {}, r.source && r.source.conversation_id
      ? el("a", { href: `/console/conversations/${r.source.conversation_id}` }, r.source.type || "conversation") : JSON.stringify(r.source)),
    el("td", {}, r.justification)))));
  $("#results").append(rows.length ? el("div", {}, charts, el("div", { class: "table-wrap" }, table))
    : el("p", { class: "muted" }, "No results yet."));
});
