import { $, api, el, page, when } from "./core.js";

page(async (session) => {
  $("#org-name").textContent = session.org_id;
  const [services, conversations] = await Promise.all([
    api.get("/service/?limit=20"),
    api.get("/conversation/?limit=10&sort_by=-created_at"),
  ]);
  const list = $("#services");
  for (const s of services.services) {
    list.append(el("li", {},
      el("strong", {}, s.name), " ", el("span", { class: "muted" }, s.is_active ? "active" : "inactive"), " · ",
      el("a", { href: `/console/playground?service=${encodeURIComponent(s.id)}` }, "try it"), " · ",
      el("a", { href: `/console/graphs/${encodeURIComponent(s.service_hierarchical_state_machine_id)}` +
        `?version=${(s.version_sets.release || {}).service_hierarchical_state_machine_version_number || ""}` }, "graph")));
  }
  if (!services.services.length) list.append(el("li", { class: "muted" }, "No services yet."));
  const recent = $("#recent");
  for (const c of conversations.conversations) {
    recent.append(el("li", {}, el("a", { href: `/console/conversations/${c.id}` }, when(c.created_at)), " ",
      el("span", { class: "muted" }, `${c.user_id} · ${c.num_messages} messages${c.is_finished ? " · finished" : ""}`)));
  }
  if (!conversations.conversations.length) recent.append(el("li", { class: "muted" }, "No conversations yet."));
});
