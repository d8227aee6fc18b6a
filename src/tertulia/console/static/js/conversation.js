// One conversation: its transcript, every agent turn unfolding its insights, plus tags, feedback and metrics.
import { $, api, clear, el, flash, json, page, pageData, when } from "./core.js";
import { renderInsights } from "./insights.js";

async function openInsights(details, conversationId, interactionId) {
  if (details.dataset.loaded) return;
  details.dataset.loaded = "true";
  const box = details.querySelector(".insights-box");
  try {
    const data = await api.get(`/conversation/${conversationId}/interaction/${interactionId}/insights`);
    clear(box).append(renderInsights(data));
  } catch (error) {
    clear(box).append(el("p", { class: "muted" }, `Insights unavailable: ${error.detail || error}`));
  }
}

function message(m, conversationId) {
  const kind = m.message_type === "agent-message" ? "agent" : m.message_type === "user-message" ? "user"
    : m.message_type === "agent-inner-thought" ? "thought" : "event";
  const item = el("li", { class: `msg ${kind}`, dataset: { interaction: m.interaction_id } },
    el("span", { class: "who" }, `${kind === "user" ? m.sender : kind} · ${when(m.created_at)}${m.format === "voice" ? " · voice" : ""}`),
    el("div", { class: "text" }, m.message));
  if (kind === "agent") {
    const details = el("details", { class: "insights-toggle" }, el("summary", {}, "Insights"),
      el("div", { class: "insights-box" }, el("p", { class: "muted" }, "Loading…")));
    details.addEventListener("toggle", () => { if (details.open) openInsights(details, conversationId, m.interaction_id); });
    item.append(details);
  }
  return item;
}

async function side(conversation) {
  const tags = $("#tags");
  const entries = Object.entries(conversation.tags || {});
  tags.append(entries.length ? el("ul", { class: "list" }, entries.map(([k, v]) => el("li", {}, el("span", { class: "tag" }, v === null ? k : `${k}:${v}`))))
    : el("p", { class: "muted" }, "No tags."));
  const feedback = $("#feedback");
  try {
    const [c, i] = await Promise.all(["conversation", "interaction"].map((type) =>
      api.get(`/conversation/feedback/?type=${type}&conversation_id=${conversation.id}&limit=50`)));
    const all = [...c.feedbacks, ...i.feedbacks];
    feedback.append(all.length ? el("ul", { class: "list" }, all.map((f) => el("li", {},
      el("strong", {}, f.user_id), ` · ${when(f.created_at)}: `, f.feedback_content.comment || JSON.stringify(f.feedback_content))))
      : el("p", { class: "muted" }, "No feedback."));
  } catch (error) {
    feedback.append(el("p", { class: "muted" }, `Feedback unavailable: ${error.detail || error}`));
  }
  const metrics = $("#metrics");
  try {
    const results = await api.get(`/metric/metric_evaluation_result?conversation_id=${conversation.id}`);
    const rows = results.metric_evaluation_results;
    const ids = [...new Set(rows.map((r) => r.metric_id))];
    const names = ids.length ? Object.fromEntries((await api.get(`/metric/?${ids.map((i) => `id=${i}`).join("&")}`))
      .metrics.map((m) => [m.id, m.name])) : {};
    metrics.append(rows.length ? el("ul", { class: "list" }, rows.map((r) => el("li", { class: "metric-result" },
      el("strong", {}, `${names[r.metric_id] || r.metric_id} v${r.metric_version}`), `: ${JSON.stringify(r.result)}`,
      el("div", { class: "muted" }, r.justification)))) : el("p", { class: "muted" }, "No metric results yet."));
  } catch (error) {
    metrics.append(el("p", { class: "muted" }, `Metrics unavailable: ${error.detail || error}`));
  }
}

page(async () => {
  const id = pageData("conversationId");
  $("#conv-id").textContent = id;
  const found = await api.get(`/conversation/?id=${id}`);
  const conversation = found.conversations[0];
  if (!conversation) {
    flash("Conversation not found.");
    return;
  }
  const vs = conversation.version_set_info;
  const summary = $("#summary");
  summary.append(el("span", {}, `user ${conversation.user_id} · ${when(conversation.created_at)} · `,
    conversation.is_finished ? "finished" : "open", ` · ${conversation.num_messages} messages`));
  if (vs) {
    const [graphId, version] = vs.service_hierarchical_state_machine_version_info;
    summary.append(" · ", el("a", { id: "graph-link", href: `/console/graphs/${graphId}?version=${version}&conversation=${id}` },
      "show its path on the context graph"));
  }
  const messages = await api.get(`/conversation/${id}/messages/?message_type=user-message&message_type=agent-message` +
    "&message_type=external-event&message_type=agent-inner-thought&limit=500&sort_by=%2Bcreated_at");
  const list = $("#transcript");
  for (const m of messages.messages) list.append(message(m, id));
  if (!messages.messages.length) list.append(el("li", { class: "muted" }, "No messages."));
  await side(conversation);
});
