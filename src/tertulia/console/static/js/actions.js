// Human-readable titles for the `current-agent-action` events of a turn (engine/events.py names them).
// Returns [group, title, detail]; every value is shown as text.

const short = (value, limit = 160) => {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text && text.length > limit ? `${text.slice(0, limit - 1)}…` : text || "";
};
const info = (pair) => (Array.isArray(pair) ? `${pair[0]} v${pair[1]}` : "none");

const DESCRIBE = {
  "select-dynamic-behavior-vector-generated": () => ["behavior", "Dynamic behaviors: utterance embedded", ""],
  "select-dynamic-behavior-relevance-retrieval-completed": () => ["behavior", "Dynamic behaviors: candidates ranked", ""],
  "select-dynamic-behavior-completed": (a) => ["behavior", "Dynamic behavior selected",
    a.selected_dynamic_behavior_set_version_info ? info(a.selected_dynamic_behavior_set_version_info) : "none triggered"],
  "check-if-active-memory-needed-completed": (a) => ["memory", "Active memory checked",
    a.queries && a.queries.length ? `queries: ${a.queries.join(" · ")}` : "no memory needed"],
  "extract-active-memories-completed": (a) => ["memory", "Memories retrieved",
    (a.queries_and_responses || []).map(([q, r]) => `${q} → ${r}`).join(" · ")],
  "navigate-state-machine-dynamic-behavior-override": (a) => ["navigate", "Behavior overrides navigation",
    `instructions: ${a.overriding_instructions}, tools: ${a.overriding_tool_candidates}`],
  "navigate-state-machine-action-state-action-selected": (a) => ["navigate", "Action selected", short(a.action)],
  "navigate-state-machine-decision-state-decision-started": () => ["navigate", "Decision started", ""],
  "navigate-state-machine-exit-condition-selected": (a) => ["navigate", `Exit chosen → ${a.next_state_name}`,
    short(a.exit_condition)],
  "navigate-state-machine-state-transitioned": (a) => ["transition", `${a.prev_state} → ${a.next_state}`,
    info(a.next_state_state_machine_version_info)],
  "navigate-state-machine-recall-state-static-queries-retrieved": (a) => ["memory", "Recall: static queries",
    (a.static_queries || []).join(" · ")],
  "navigate-state-machine-recall-state-dynamic-queries-generated": (a) => ["memory", "Recall: queries generated",
    (a.dynamic_queries || []).join(" · ")],
  "navigate-state-machine-recall-state-active-memory-retrieved": (a) => ["memory", "Recall: memories retrieved",
    (a.queries_and_responses || []).map(([q, r]) => `${q} → ${r}`).join(" · ")],
  "navigate-state-machine-reflection-state-prompt-retrieved": (a) => ["navigate", "Reflection prompt", short(a.prompt)],
  "navigate-state-machine-reflection-state-reflection-generated": (a) => ["navigate", "Reflection", short(a.reflection)],
  "navigate-state-machine-annotation-state-annotation-retrieved": (a) => ["navigate", "Annotation", short(a.annotation)],
  "designated-tool-retrieved": (a) => ["tool", `Tool ${a.tool_id} ${a.tool_version}`, "designated tool"],
  "designated-tool-call-params-generated": (a) => ["tool", `Tool parameters for ${a.tool_id}`, short(a.tool_call_params)],
  "navigate-state-machine-tool-call-state-tool-output-available": (a) => ["tool", `Tool output ${a.tool_id}`,
    `${short(a.tool_output)} (${Math.round((a.duration || 0) * 1000)} ms)`],
  "tool-call-started": (a) => ["tool", `Tool call started ${a.tool_id}`, short(a.input_params)],
  "tool-call-ended": (a) => ["tool", `Tool call ended ${a.tool_id}`,
    `${short(a.result)} (${Math.round((a.duration || 0) * 1000)} ms)`],
  "action-too-long": (a) => ["engage", "Filler spoken", short(a.filler)],
  "engage-user-dynamic-behavior-override": (a) => ["engage", "Behavior overrides the reply",
    `instructions: ${a.overriding_instructions}, tools: ${a.overriding_tool_candidates}`],
  "engage-user-message-fragment-generated": (a) => ["engage", a.is_final ? "Reply complete" : "Reply streaming",
    `fragment ${a.index}`],
  "user-message-available": (a) => ["input", "User message received", a.voice ? "voice note transcribed" : ""],
  "interaction-complete": (a) => ["done", "Turn complete", a.conversation_completed ? "the conversation is completed" : ""],
};

export function describe(action) {
  const make = DESCRIBE[action.type];
  return make ? make(action) : ["other", action.type, short(action)];
}
