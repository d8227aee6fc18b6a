// Conversations: filter by service, user, finished, tag and date; open one.
import { $, api, clear, el, listAll, page, when } from "./core.js";

const names = {};
let token = 0;

function query() {
  const q = new URLSearchParams({ limit: "50", sort_by: "-created_at" });
  if ($("#f-service").value) q.append("service_id", $("#f-service").value);
  if ($("#f-user").value.trim()) q.append("user_id", $("#f-user").value.trim());
  if ($("#f-finished").value) q.append("is_finished", $("#f-finished").value);
  if ($("#f-tag").value.trim()) q.append("tag", $("#f-tag").value.trim());
  return q;
}

// The API has no date filter: the page filters the listed conversations by their created_at.
function inDateRange(conversation) {
  const created = Date.parse(conversation.created_at);
  const from = $("#f-from").value ? Date.parse(`${$("#f-from").value}T00:00:00`) : null;
  const to = $("#f-to").value ? Date.parse(`${$("#f-to").value}T23:59:59.999`) : null;
  return (from === null || created >= from) && (to === null || created <= to);
}

function row(c) {
  const tags = Object.entries(c.tags || {}).map(([k, v]) => el("span", { class: "tag" }, v === null ? k : `${k}:${v}`));
  return el("tr", {},
    el("td", {}, el("a", { href: `/console/conversations/${c.id}` }, when(c.created_at))),
    el("td", {}, names[c.service_id] || c.service_id),
    el("td", {}, c.user_id),
    el("td", {}, String(c.num_messages)),
    el("td", {}, c.is_finished ? "finished" : "open"),
    el("td", {}, tags));
}

async function load(reset) {
  if (reset) {
    token = 0;
    clear($("#rows"));
  }
  const q = query();
  q.set("continuation_token", String(token));
  const page = await api.get(`/conversation/?${q}`);
  const shown = page.conversations.filter(inDateRange);
  for (const c of shown) $("#rows").append(row(c));
  if (reset && !shown.length) $("#rows").append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, "No conversation matches.")));
  $("#more").hidden = !page.has_more;
  token = page.continuation_token || 0;
}

page(async () => {
  const services = await listAll("/service/?limit=20", "services");
  for (const s of services) {
    names[s.id] = s.name;
    $("#f-service").append(el("option", { value: s.id }, s.name));
  }
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); load(true); });
  $("#more").addEventListener("click", () => load(false));
  await load(true);
});
