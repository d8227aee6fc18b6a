// Metric definitions and their evaluation results over time.
import { $, api, el, listAll, page, when } from "./core.js";

page(async () => {
  const metrics = await listAll("/metric/?limit=50", "metrics");
  const names = Object.fromEntries(metrics.map((m) => [m.id, m.name]));
  const box = $("#metrics");
  box.append(metrics.length ? el("ul", { class: "list" }, metrics.map((m) => el("li", {}, el("strong", {}, m.name),
    m.description ? ` — ${m.description}` : ""))) : el("p", { class: "muted" }, "No metric yet."));
  const results = await api.get("/metric/metric_evaluation_result?limit=200&sort_by=-created_at");
  const rows = results.metric_evaluation_results;
  const table = el("table", { class: "table" }, el("thead", {}, el("tr", {}, el("th", {}, "When"), el("th", {}, "Metric"),
    el("th", {}, "Result"), el("th", {}, "Source"), el("th", {}, "Justification"))),
  el("tbody", {}, rows.map((r) => el("tr", {}, el("td", {}, when(r.created_at)),
    el("td", {}, `${names[r.metric_id] || r.metric_id} v${r.metric_version}`), el("td", {}, JSON.stringify(r.result)),
    el("td", {}, r.source && r.source.conversation_id
      ? el("a", { href: `/console/conversations/${r.source.conversation_id}` }, "conversation") : JSON.stringify(r.source)),
    el("td", {}, r.justification)))));
  $("#results").append(rows.length ? el("div", { class: "table-wrap" }, table) : el("p", { class: "muted" }, "No results yet."));
});
