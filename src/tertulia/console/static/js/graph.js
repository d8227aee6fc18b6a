// One context graph version drawn as SVG (laid out by the server), with a conversation's state path highlighted.
import { $, api, clear, el, flash, page, pageData, request } from "./core.js";

const GRAPHS = "/organization/service_hierarchical_state_machine";

function stateList(version) {
  const box = clear($("#states"));
  for (const s of version.states) {
    const exits = (s.exit_conditions || []).map((e) => el("li", {},
      `→ ${Array.isArray(e.next_state) ? e.next_state.join(" ⤴ ") : e.next_state}: `, e.description));
    const next = s.next_state ? el("li", {}, `→ ${Array.isArray(s.next_state) ? s.next_state.join(" ⤴ ") : s.next_state}`) : null;
    box.append(el("details", { class: `state-info state-${s.type}` },
      el("summary", {}, el("strong", {}, s.name), ` · ${s.type}`),
      s.objective ? el("p", {}, s.objective) : null,
      (s.actions || []).length ? el("p", { class: "muted" }, "actions: ", s.actions.join(" · ")) : null,
      el("ul", { class: "list" }, exits, next)));
  }
}

// Mark the states and exits a conversation went through (from each agent turn's insights).
async function highlight(svg, graphId, conversationId) {
  const messages = await api.get(`/conversation/${conversationId}/messages/?message_type=agent-message&limit=500&sort_by=%2Bcreated_at`);
  const interactions = [...new Set(messages.messages.map((m) => m.interaction_id))];
  const insights = await Promise.all(interactions.map((i) =>
    api.get(`/conversation/${conversationId}/interaction/${i}/insights`)));
  const nodes = [...svg.querySelectorAll("g.state")];
  const edges = [...svg.querySelectorAll("g.exit")];
  const mark = (name, info) => {
    for (const n of nodes) {
      const ours = !info || info[0] === graphId;
      if ((ours && n.dataset.state === name) || (!ours && n.dataset.refGraph === info[0])) n.classList.add("on-path");
    }
  };
  const path = [];
  for (const data of insights) {
    for (const t of data.state_transition_logs || []) {
      const prev = t.previous_service_hierarchical_state_machine_version_info;
      const next = t.next_service_hierarchical_state_machine_version_info;
      mark(t.previous_state, prev);
      mark(t.next_state, next);
      for (const e of edges) {
        const toRef = next && next[0] !== graphId && e.dataset.to.startsWith("ref:");
        if (e.dataset.from === t.previous_state && (e.dataset.to === t.next_state || toRef)) e.classList.add("on-path");
      }
      if (!path.length) path.push(t.previous_state);
      path.push(t.next_state);
    }
    mark(data.current_state_name, null);
    if (!path.length || path[path.length - 1] !== data.current_state_name) path.push(data.current_state_name);
  }
  for (const e of svg.querySelectorAll("g.exit.on-path path")) e.setAttribute("marker-end", "url(#arrow-on)");
  $("#path-summary").textContent = path.length ? `path: ${path.join(" → ")}` : "no turn recorded yet";
}

async function show(graphId, version, conversationId) {
  const text = await request(`/graphs/${graphId}/versions/${version}/diagram.svg`, { console: true });
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = document.importNode(doc.documentElement, true);
  clear($("#diagram")).append(svg);
  const found = await api.get(`${GRAPHS}/${graphId}/version?version=${version}`);
  if (found.state_machine_versions[0]) stateList(found.state_machine_versions[0]);
  if (conversationId) await highlight(svg, graphId, conversationId);
  else $("#path-summary").textContent = "";
}

page(async () => {
  const graphId = pageData("graphId");
  const params = new URLSearchParams(location.search);
  const listed = await api.get(`${GRAPHS}?id=${graphId}`);
  const graph = listed.service_hierarchical_state_machines[0];
  if (!graph || !graph.latest_version) {
    flash(graph ? "This context graph has no version yet." : "Context graph not found.");
    return;
  }
  $("#graph-name").textContent = graph.name;
  const select = $("#version");
  const wanted = Number(params.get("version")) || graph.latest_version;
  for (let v = graph.latest_version; v >= 1; v--) select.append(el("option", { value: String(v), selected: v === wanted }, `v${v}`));
  $("#conversation").value = params.get("conversation") || "";
  $("#graph-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams({ version: select.value });
    if ($("#conversation").value.trim()) q.set("conversation", $("#conversation").value.trim());
    history.replaceState(null, "", `?${q}`);
    show(graphId, select.value, $("#conversation").value.trim()).catch((err) => flash(String(err.detail || err)));
  });
  await show(graphId, String(wanted), $("#conversation").value.trim());
});
