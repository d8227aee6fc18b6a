// Operations: the organization's durable jobs (retry a failed one) and webhook deliveries of every destination.
import { $, api, clear, el, flash, page, request, when } from "./core.js";

async function loadJobs() {
  const status = $("#job-status").value;
  const data = await request(`/jobs?limit=100${status ? `&status=${status}` : ""}`, { console: true });
  $("#job-counts").textContent = Object.entries(data.counts).map(([k, v]) => `${k} ${v}`).join(" · ");
  const body = clear($("#jobs"));
  for (const job of data.jobs) {
    const retry = job.status === "failed"
      ? el("button", { type: "button", class: "retry", dataset: { job: job.id } }, "Retry") : null;
    if (retry) retry.addEventListener("click", () => retryJob(job.id, retry));
    body.append(el("tr", { dataset: { job: job.id, status: job.status } },
      el("td", {}, when(job.created_at)), el("td", {}, job.kind),
      el("td", {}, el("span", { class: `badge ${job.status}` }, job.status)),
      el("td", {}, `${job.attempts}/${job.max_attempts}`),
      el("td", { class: "error" }, job.last_error || ""), el("td", {}, retry)));
  }
  if (!data.jobs.length) body.append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, "No jobs.")));
}

async function retryJob(id, button) {
  button.disabled = true;
  try {
    await request(`/jobs/${id}/retry`, { method: "POST", console: true });
    flash(`Job ${id} queued again.`, "ok");
  } catch (error) {
    flash(`Retry failed: ${error.detail || error}`);
  }
  await loadJobs();
}

async function loadDeliveries() {
  const body = clear($("#deliveries"));
  let destinations;
  try {
    destinations = (await api.get("/webhook_destination/")).webhook_destinations;
  } catch (error) {
    body.append(el("tr", {}, el("td", { colspan: "5", class: "muted" }, `Unavailable: ${error.detail || error}`)));
    return;
  }
  const pages = await Promise.all(destinations.map((d) => api.get(`/webhook_destination/${d.id}/delivery?limit=50`)
    .then((p) => p.webhook_deliveries.map((w) => ({ ...w, destination: d.url })))));
  const all = pages.flat().sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
  for (const d of all) {
    body.append(el("tr", {}, el("td", {}, when(d.created_at)), el("td", {}, d.destination), el("td", {}, d.type),
      el("td", {}, el("span", { class: `badge ${d.status}` }, d.status)),
      el("td", {}, d.delivery_attempts.map((a) => `${a.status_code ?? "—"} at ${when(a.delivery_time)}`).join(" · "))));
  }
  if (!all.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No deliveries.")));
}

page(async () => {
  $("#job-filter").addEventListener("submit", (e) => { e.preventDefault(); loadJobs().catch((err) => flash(String(err.detail || err))); });
  await Promise.all([loadJobs(), loadDeliveries()]);
});
