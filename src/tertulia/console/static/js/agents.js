// Agents and dynamic behavior sets with their versions (read only).
import { $, api, clear, el, json, listAll, page } from "./core.js";

function versionsOf(details, load, render) {
  details.addEventListener("toggle", async () => {
    if (!details.open || details.dataset.loaded) return;
    details.dataset.loaded = "true";
    const box = clear(details.querySelector(".versions"));
    try {
      for (const v of await load()) box.append(render(v));
    } catch (error) {
      box.append(el("p", { class: "muted" }, `Unavailable: ${error.detail || error}`));
    }
  });
}

page(async () => {
  const [agents, behaviors] = await Promise.all([listAll("/organization/agent?limit=20", "agents"),
    listAll("/dynamic_behavior_set/?limit=50", "dynamic_behavior_sets")]);
  const agentBox = $("#agents");
  for (const a of agents) {
    const details = el("details", {}, el("summary", {}, el("strong", {}, a.name),
      ` · latest v${a.latest_version ?? "—"}${a.deprecated ? " · deprecated" : ""}`), el("div", { class: "versions" }));
    versionsOf(details, async () => (await api.get(`/organization/agent/${a.id}/version?limit=10&sort_by=-version`)).agent_versions,
      (v) => el("div", { class: "version" }, el("h4", {}, `v${v.version} · ${v.identity.name}, ${v.identity.role}`),
        el("p", {}, v.background), v.voice_config ? el("p", { class: "muted" }, `voice: ${v.voice_config.voice_id}`) : null,
        json({ behaviors: v.behaviors, communication_patterns: v.communication_patterns })));
    agentBox.append(details);
  }
  if (!agents.length) agentBox.append(el("p", { class: "muted" }, "No agent yet."));
  const behaviorBox = $("#behaviors");
  for (const b of behaviors) {
    const details = el("details", {}, el("summary", {}, el("strong", {}, b.name), b.is_active ? " · active" : " · inactive"),
      el("div", { class: "versions" }));
    versionsOf(details, async () => (await api.get(`/dynamic_behavior_set/${b.id}/version/?limit=10`)).dynamic_behavior_set_versions,
      (v) => el("div", { class: "version" }, el("h4", {}, `v${v.version}`), json(v)));
    behaviorBox.append(details);
  }
  if (!behaviors.length) behaviorBox.append(el("p", { class: "muted" }, "No dynamic behavior set yet."));
});
