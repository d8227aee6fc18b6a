// Shared by every console page: the session (tokens in sessionStorage, never cookies), API calls with the token,
// NDJSON stream reading, and DOM building that only ever sets text (never HTML) from data.

const STORE = "tertulia.console";

export function loadSessions() {
  try {
    const raw = sessionStorage.getItem(STORE);
    const value = raw ? JSON.parse(raw) : null;
    if (value && typeof value === "object" && value.sessions) return value;
  } catch (_) { /* a corrupt entry is simply forgotten */ }
  return { current: null, sessions: {} };
}

function saveSessions(value) {
  sessionStorage.setItem(STORE, JSON.stringify(value));
}

export function currentSession() {
  const all = loadSessions();
  const s = all.current ? all.sessions[all.current] : null;
  if (!s) return null;
  if (s.expires_at && Date.parse(s.expires_at) <= Date.now()) {
    forgetSession(all.current);
    return null;
  }
  return s;
}

export function rememberSession(session) {
  const all = loadSessions();
  all.sessions[session.org_id] = session;
  all.current = session.org_id;
  saveSessions(all);
}

export function switchSession(orgId) {
  const all = loadSessions();
  if (all.sessions[orgId]) {
    all.current = orgId;
    saveSessions(all);
  }
}

export function forgetSession(orgId) {
  const all = loadSessions();
  delete all.sessions[orgId];
  if (all.current === orgId) all.current = Object.keys(all.sessions)[0] || null;
  saveSessions(all);
}

export function signOutEverywhere() {
  sessionStorage.removeItem(STORE);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

async function errorOf(response) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
  } catch (_) { /* not JSON */ }
  return new ApiError(response.status, detail);
}

function toSignIn() {
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/console/signin?next=${next}`);
}

// fetch() against the organization's API (`/v1/{org}` + path, or a console endpoint with `console: true`).
export async function request(path, { method = "GET", body, headers = {}, console: own = false, raw = false } = {}) {
  const session = currentSession();
  if (!session) {
    toSignIn();
    throw new ApiError(401, "Not signed in.");
  }
  const base = own ? `/console/api/${encodeURIComponent(session.org_id)}` : `/v1/${encodeURIComponent(session.org_id)}`;
  const init = { method, headers: { Authorization: `Bearer ${session.token}`, ...headers }, credentials: "omit" };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(base + path, init);
  if (response.status === 401) {
    forgetSession(session.org_id);
    toSignIn();
    throw await errorOf(response);
  }
  if (!response.ok) throw await errorOf(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const api = {
  get: (path, opts) => request(path, { ...opts, method: "GET" }),
  post: (path, body, opts) => request(path, { ...opts, method: "POST", body }),
};

// Read an NDJSON response body as it arrives, calling onEvent(object) for every complete line.
export async function readNdjson(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) onEvent(JSON.parse(line));
    }
    if (done) break;
  }
  const rest = (buffer + decoder.decode()).trim();
  if (rest) onEvent(JSON.parse(rest));
}

// el("li", {class: "x", dataset: {state: "a"}}, "text", child...) — strings become text nodes, never markup.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

// The same for SVG elements (charts drawn in the page).
export function svgEl(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function flash(message, kind = "error") {
  const box = $("#flash");
  if (!box) return;
  box.textContent = message;
  box.className = `flash ${kind}`;
  box.hidden = !message;
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function json(value) {
  return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

// Fetch every page of a list endpoint (continuation_token paging), up to `max` items.
export async function listAll(path, key, { max = 500, console: own = false } = {}) {
  const items = [];
  let token = 0;
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await request(`${path}${sep}continuation_token=${token}`, { console: own });
    items.push(...(page[key] || []));
    if (!page.has_more || items.length >= max) return items;
    token = page.continuation_token;
  }
}

function wireHeader(session) {
  const box = $("#session");
  if (!box || !session) return;
  box.hidden = false;
  $("#who").textContent = session.user_id;
  const select = $("#org-select");
  clear(select);
  const all = loadSessions();
  for (const orgId of Object.keys(all.sessions)) {
    select.append(el("option", { value: orgId, selected: orgId === all.current }, orgId));
  }
  select.append(el("option", { value: "__new__" }, "Sign in to another organization…"));
  select.addEventListener("change", () => {
    if (select.value === "__new__") location.assign("/console/signin");
    else {
      switchSession(select.value);
      location.reload();
    }
  });
  $("#signout").addEventListener("click", () => {
    signOutEverywhere();
    location.assign("/console/signin");
  });
}

// Every page but sign-in: make sure someone is signed in, wire the header, then run the page.
export function page(run) {
  const start = async () => {
    const session = currentSession();
    if (!session) return toSignIn();
    wireHeader(session);
    try {
      await run(session);
    } catch (error) {
      flash(error instanceof ApiError ? `The server answered ${error.status}: ${error.detail}` : String(error));
      throw error;
    }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}

export const pageData = (name) => $("#page").dataset[name];
