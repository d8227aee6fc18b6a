// Playground: start a conversation with a service, chat with streamed replies, watch each current-agent-action live.
import { describe } from "./actions.js";
import { $, api, clear, el, flash, listAll, page, readNdjson, request } from "./core.js";
import { VoicePlayer, VoiceRecorder } from "./voice.js";

const state = { services: [], conversationId: null, busy: false, completed: false, voiceConfig: null };
const player = new VoicePlayer();
let recorder = null;

function setBusy(busy) {
  state.busy = busy;
  const open = Boolean(state.conversationId) && !state.completed;
  $("#say").disabled = busy || !open;
  $("#send").disabled = busy || !open;
  $("#record").disabled = busy || !open || !VoiceRecorder.supported() || !state.voiceConfig;
  $("#finish").disabled = busy || !state.conversationId;
  $("#start").disabled = busy;
}

function bubble(kind, text = "") {
  const body = el("div", { class: "text" }, text);
  const item = el("li", { class: `msg ${kind}` }, el("span", { class: "who" }, kind === "user" ? "You" : "Agent"), body);
  $("#transcript").append(item);
  item.scrollIntoView({ block: "nearest" });
  return body;
}

function addAction(t0, last, action) {
  const now = performance.now();
  const [group, title, detail] = describe(action);
  const entry = el("li", { class: `act act-${group}`, dataset: { type: action.type } },
    el("span", { class: "t" }, `${Math.round(now - t0)} ms`),
    el("span", { class: "dt" }, `+${Math.round(now - last)}`),
    el("span", { class: "title" }, title),
    detail ? el("span", { class: "detail" }, detail) : null);
  $("#timeline").append(entry);
  entry.scrollIntoView({ block: "nearest" });
  return now;
}

// Run one streamed turn (create or interact) and render its events as they arrive.
async function runTurn(path, options, { voice, requestFormat = "text" }) {
  setBusy(true);
  clear($("#timeline"));
  $("#turn-status").textContent = "streaming…";
  const t0 = performance.now();
  let last = t0;
  let reply = null;
  let fragments = 0;
  try {
    const response = await request(path, { ...options, raw: true });
    await readNdjson(response, (event) => {
      if (event.type === "conversation-created") {
        state.conversationId = event.conversation_id;
        const link = $("#conversation-link");
        clear(link).append(el("a", { href: `/console/conversations/${event.conversation_id}` }, "open conversation"));
      } else if (event.type === "user-message-available") {
        bubble("user", event.user_message);
        last = addAction(t0, last, { type: event.type, voice: requestFormat === "voice" });
      } else if (event.type === "current-agent-action") {
        const kind = event.action.type;
        if (kind === "engage-user-message-fragment-generated" && fragments++ > 0 && !event.action.is_final) return;
        last = addAction(t0, last, event.action);
      } else if (event.type === "new-message") {
        if (!reply) reply = bubble("agent");
        reply.dataset.pieces = String(Number(reply.dataset.pieces || 0) + 1);
        if (voice) {
          if (event.message) player.enqueue(event.message);
        } else {
          reply.append(event.message);
        }
      } else if (event.type === "interaction-complete") {
        if (!reply) reply = bubble("agent");
        reply.textContent = event.full_message;
        reply.dataset.complete = "true";
        state.completed = Boolean(event.conversation_completed);
        last = addAction(t0, last, { type: "interaction-complete", conversation_completed: event.conversation_completed });
        $("#turn-status").textContent = `complete in ${Math.round(performance.now() - t0)} ms` +
          (state.completed ? " · the conversation has reached its end" : "");
      } else if (event.type === "error") {
        flash(`The turn failed (${event.http_error_code}): ${event.error_description}`);
        $("#turn-status").textContent = "failed";
      }
    });
  } catch (error) {
    flash(`The turn failed: ${error.detail || error}`);
    $("#turn-status").textContent = "failed";
  } finally {
    setBusy(false);
  }
}

function voiceQuery() {
  return $("#voice-reply").checked ? "voice" : "text";
}

function voiceHeaders() {
  return $("#voice-reply").checked ? { Accept: "application/x-ndjson, audio/wav" } : {};
}

async function start(event) {
  event.preventDefault();
  flash("");
  state.conversationId = null;
  state.completed = false;
  clear($("#transcript"));
  clear($("#conversation-link"));
  const body = { service_id: $("#service").value, service_version_set_name: $("#version-set").value };
  await runTurn(`/conversation/?response_format=${voiceQuery()}`, { method: "POST", body, headers: voiceHeaders() },
    { voice: voiceQuery() === "voice" });
}

// The user's bubble comes from the stream's user-message-available event (for a voice note: its transcript).
async function send(payload, requestFormat) {
  const form = new FormData();
  form.append("initial_message_type", "user-message");
  form.append("recorded_message", payload, requestFormat === "voice" ? "voice-note.wav" : "message.txt");
  const query = `request_format=${requestFormat}&response_format=${voiceQuery()}`;
  await runTurn(`/conversation/${state.conversationId}/interact?${query}`,
    { method: "POST", body: form, headers: voiceHeaders() }, { voice: voiceQuery() === "voice", requestFormat });
}

async function say(event) {
  event.preventDefault();
  const input = $("#say");
  const text = input.value;
  if (!text.trim() || !state.conversationId) return;
  input.value = "";
  await send(new Blob([text], { type: "text/plain;charset=utf-8" }), "text");
}

async function toggleRecording() {
  const button = $("#record");
  if (recorder && recorder.recording) {
    button.textContent = "Record voice note";
    const wav = await recorder.stop();
    await send(wav, "voice");
    return;
  }
  recorder = new VoiceRecorder();
  try {
    await recorder.start();
    button.textContent = "Stop and send";
  } catch (error) {
    flash(`The microphone is not available: ${error.message || error}`);
  }
}

async function finish() {
  if (!state.conversationId) return;
  setBusy(true);
  try {
    await api.post(`/conversation/${state.conversationId}/finish/`);
    state.completed = true;
    $("#turn-status").textContent = "conversation finished";
    flash("Conversation finished: start another one any time.", "ok");
  } catch (error) {
    flash(`Could not finish: ${error.detail || error}`);
  } finally {
    state.conversationId = null;
    setBusy(false);
  }
}

async function serviceChanged() {
  const service = state.services.find((s) => s.id === $("#service").value);
  const sets = clear($("#version-set"));
  if (!service) return;
  const names = Object.keys(service.version_sets).sort((a, b) => (a === "release" ? -1 : b === "release" ? 1 : 0));
  for (const name of names) sets.append(el("option", { value: name }, name));
  await versionSetChanged();
}

async function versionSetChanged() {
  const service = state.services.find((s) => s.id === $("#service").value);
  const set = service && service.version_sets[$("#version-set").value];
  const box = $("#voice-reply");
  const hint = $("#voice-note-hint");
  state.voiceConfig = null;
  if (!set) return;
  const version = set.agent_version_number || "latest";
  try {
    const found = await api.get(`/organization/agent/${service.agent_id}/version?version=${version}`);
    const agent = found.agent_versions[0];
    state.voiceConfig = agent ? agent.voice_config : null;
  } catch (_) { /* no permission to read agents: voice replies stay off */ }
  box.disabled = !state.voiceConfig;
  if (!state.voiceConfig) box.checked = false;
  hint.hidden = false;
  hint.textContent = state.voiceConfig
    ? `This agent speaks with voice ${state.voiceConfig.voice_id}: tick "Voice reply" to hear it.`
    : "This agent has no voice config: text only (the server takes voice notes only for agents with a voice).";
  setBusy(state.busy);
}

page(async () => {
  state.services = (await listAll("/service/?limit=20&is_active=true", "services")).filter((s) => s.is_active);
  const select = $("#service");
  const wanted = new URLSearchParams(location.search).get("service");
  for (const s of state.services) select.append(el("option", { value: s.id, selected: s.id === wanted }, s.name));
  if (!state.services.length) flash("This organization has no active service yet.", "info");
  select.addEventListener("change", () => serviceChanged().catch((e) => flash(String(e))));
  $("#version-set").addEventListener("change", () => versionSetChanged().catch((e) => flash(String(e))));
  $("#start-form").addEventListener("submit", (e) => start(e));
  $("#say-form").addEventListener("submit", (e) => say(e));
  $("#record").addEventListener("click", () => toggleRecording());
  $("#finish").addEventListener("click", () => finish());
  await serviceChanged();
  setBusy(false);
});
