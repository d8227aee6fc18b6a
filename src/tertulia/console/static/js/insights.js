// Render one interaction's insights (get-interaction-insights) as readable sections; all values as text.
import { el, json } from "./core.js";

const info = (pair) => (Array.isArray(pair) ? `${pair[0]} v${pair[1]}` : "");

function toolCalls(logs) {
  const flat = (logs || []).flat();
  if (!flat.length) return null;
  return el("ul", { class: "tools" }, flat.map((t) => el("li", {},
    el("strong", {}, `${t.tool_name || t.tool_id} ${t.tool_version}`), ` · ${Math.round((t.duration || 0) * 1000)} ms`,
    el("div", { class: "io" }, el("span", { class: "muted" }, "input "), json(t.input)),
    el("div", { class: "io" }, el("span", { class: "muted" }, "output "), el("pre", { class: "json" }, t.output ?? "null")))));
}

function section(title, ...content) {
  const body = content.flat().filter(Boolean);
  return body.length ? el("section", { class: "insight" }, el("h4", {}, title), body) : null;
}

export function renderInsights(data) {
  const path = (data.state_transition_logs || []).map((t) => el("li", { class: `step step-${t.type}` },
    el("span", { class: "from" }, t.previous_state), " → ", el("span", { class: "to" }, t.next_state),
    el("span", { class: "kind" }, ` (${t.type})`),
    t.previous_state_exit_condition_description
      ? el("div", { class: "exit-chosen" }, "exit: ", t.previous_state_exit_condition_description) : null,
    t.performed_queries && t.performed_queries.length ? el("div", {}, "queries: ", t.performed_queries.join(" · ")) : null,
    t.designated_tool_call_log ? el("div", { class: "designated" }, "designated tool: ", toolCalls([[t.designated_tool_call_log]])) : null,
    toolCalls(t.tool_call_logs)));
  return el("div", { class: "insights" },
    section("State", el("p", {}, el("strong", { class: "current-state" }, data.current_state_name),
      data.current_state_objective ? ` — ${data.current_state_objective}` : ""),
      data.current_state_action ? el("p", { class: "muted" }, "action: ", data.current_state_action) : null),
    section("State path", path.length ? el("ol", { class: "path" }, path) : el("p", { class: "muted" }, "No transition this turn.")),
    section("Dynamic behavior", el("p", {}, data.triggered_dynamic_behavior_set_version_info
      ? `triggered ${info(data.triggered_dynamic_behavior_set_version_info)}` : "none triggered")),
    section("Working memory", (data.working_memory || []).length ? el("ul", { class: "memory" }, data.working_memory.map((m) =>
      el("li", {}, typeof m === "object" && m ? [m.content ?? JSON.stringify(m), m.context ? el("div", { class: "muted" }, m.context) : null]
        : String(m)))) : null),
    section("Reflections", (data.reflections || []).map((r) => el("p", { class: "reflection" }, typeof r === "string" ? r : JSON.stringify(r)))),
    section("Tool calls while navigating", toolCalls(data.select_next_action_tool_call_logs)),
    section("Tool calls while replying", toolCalls(data.engage_user_tool_call_logs)));
}
