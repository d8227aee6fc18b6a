// Sign in with an API key (sign-in-with-api-key); the id token goes to sessionStorage only.
import { $, flash, rememberSession } from "./core.js";

function safeNext() {
  const next = new URLSearchParams(location.search).get("next") || "/console";
  // Only a path of this console: never an absolute or protocol-relative URL.
  return next.startsWith("/console") && !next.startsWith("//") ? next : "/console";
}

async function signIn(event) {
  event.preventDefault();
  const orgId = $("#org_id").value.trim();
  const userId = $("#user_id").value.trim();
  flash("");
  const response = await fetch(`/v1/${encodeURIComponent(orgId)}/user/signin_with_api_key`, {
    method: "POST",
    credentials: "omit",
    headers: { "x-api-key": $("#api_key").value, "x-api-key-id": $("#api_key_id").value.trim(), "x-user-id": userId },
  });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail; } catch (_) { /* not JSON */ }
    flash(`Sign-in failed (${response.status}): ${detail}`);
    return;
  }
  const body = await response.json();
  rememberSession({ org_id: orgId, user_id: userId, token: body.id_token, expires_at: body.expires_at });
  $("#api_key").value = "";
  location.assign(safeNext());
}

$("#signin-form").addEventListener("submit", (event) => {
  signIn(event).catch((error) => flash(String(error)));
});
