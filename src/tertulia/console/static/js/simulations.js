// Simulation runs: pass rate and pass^k per unit test; every repetition opens its simulated conversation.
import { $, api, clear, el, flash, listAll, page, request, when } from "./core.js";

const RUNS = "/simulation/unit_test_set_run/";

const comb = (n, k) => {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
};
const percent = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 1000) / 10}%`);

// Figures from the run listing (a run still in progress has no artifacts yet). A repetition passed when every metric
// result of its run_index held and it did not error; run_index comes from the metric results' source (``indexOf``),
// since a run's result tuples list only the judged repetitions.
function figuresFromResults(run, indexOf) {
  return run.unit_test_run_specs.map((spec, index) => {
    const result = run.unit_test_run_results[index];
    if (!result) return { unit_test_id: spec.unit_test_id, runs: 0, passed: 0, pass_rate: null, k: 0, repetitions: [] };
    const held = new Map();
    for (const metric of result.metric_evaluation_results) {
      metric.results.forEach(([resultId, ok], position) => {
        const at = indexOf[resultId] ?? position;
        held.set(at, (held.get(at) ?? true) && ok);
      });
    }
    result.run_errors.forEach((error, at) => { if (error !== null) held.set(at, false); });
    const repetitions = [...held.entries()].sort((a, b) => a[0] - b[0]).map(([at, ok]) => ({
      run_index: at, passed: ok, error: result.run_errors[at] || null,
    }));
    const n = repetitions.length;
    const passed = repetitions.filter((r) => r.passed).length;
    return { unit_test_id: spec.unit_test_id, runs: n, passed, pass_rate: n ? passed / n : null, k: n,
      pass_hat_k: n ? comb(passed, n) / comb(n, n) : null, repetitions };
  });
}

async function artifactsOf(run) {
  if (!run.artifacts_generated) return null;
  try {
    const link = await api.get(`${RUNS}${run.id}/artifacts/`);
    const response = await fetch(link.presigned_url, { credentials: "omit" });
    return response.ok ? response.json() : null;
  } catch (_) {
    return null; // no permission for artifacts: the listing's figures are shown
  }
}

function repetitionRow(rep) {
  const verdict = rep.passed ? "passed" : rep.error ? "errored" : "failed";
  const link = rep.conversation_id
    ? el("a", { class: "open-conversation", href: `/console/conversations/${rep.conversation_id}` }, "open conversation") : null;
  const criteria = (rep.metric_results || []).map((m) => el("div", { class: m.passed ? "criterion held" : "criterion missed" },
    `${m.success_criterion_name}: ${JSON.stringify(m.value)} ${m.passed ? "(met)" : "(not met)"}`,
    m.justification ? el("span", { class: "muted" }, ` — ${m.justification}`) : null));
  return el("tr", { class: `rep ${verdict}`, dataset: { verdict } },
    el("td", {}, `#${rep.run_index + 1}`), el("td", {}, el("span", { class: `badge ${rep.passed ? "success" : "failed"}` }, verdict)),
    el("td", {}, rep.stop_reason || ""), el("td", {}, criteria),
    el("td", { class: "error" }, rep.error || rep.failure || ""), el("td", {}, link));
}

async function showRun(runId, names, indexOf) {
  const found = await api.get(`${RUNS}?id=${runId}`);
  const run = found.simulation_unit_test_set_runs[0];
  if (!run) {
    flash("Run not found.");
    return;
  }
  $("#run").hidden = false;
  $("#run-id").textContent = run.id;
  $("#run-state").textContent = `${run.is_completed ? "completed" : "in progress"}${run.failed_metrics ? " · failed metrics" : ""}${run.errored ? " · errored" : ""}`;
  const artifacts = await artifactsOf(run);
  const rows = artifacts
    ? artifacts.unit_tests.map((u) => ({ ...u.reliability, repetitions: u.repetitions }))
    : figuresFromResults(run, indexOf);
  const box = clear($("#unit-tests"));
  if (!artifacts) box.append(el("p", { class: "muted" }, "The run's artifacts are not available (yet): figures from the run listing, without the conversations."));
  for (const row of rows) {
    const ci = row.ci95_low !== undefined ? ` · 95% CI ${percent(row.ci95_low)}–${percent(row.ci95_high)}` : "";
    box.append(el("section", { class: "unit-test", dataset: { unitTest: row.unit_test_id } },
      el("h3", {}, names[row.unit_test_id] || row.name || row.unit_test_id),
      el("p", { class: "figures" }, el("strong", { class: "pass-rate" }, `pass rate ${percent(row.pass_rate)}`),
        ` (${row.passed}/${row.runs}) · `, el("strong", { class: "pass-k" }, `pass^${row.k} ${percent(row.pass_hat_k)}`), ci),
      el("div", { class: "table-wrap" }, el("table", { class: "table" },
        el("thead", {}, el("tr", {}, el("th", {}, "Repetition"), el("th", {}, "Verdict"), el("th", {}, "Stop"),
          el("th", {}, "Success criteria"), el("th", {}, "Error"), el("th", {}, ""))),
        el("tbody", {}, row.repetitions.map(repetitionRow))))));
  }
}

page(async () => {
  const [runs, sets, tests] = await Promise.all([listAll(`${RUNS}?limit=50&sort_by=-created_at`, "simulation_unit_test_set_runs"),
    listAll("/simulation/unit_test_set/?limit=20", "simulation_unit_test_sets"),
    listAll("/simulation/unit_test/?limit=200", "simulation_unit_tests")]);
  const setNames = Object.fromEntries(sets.map((s) => [s.id, s.name]));
  const indexOf = {};
  try {
    const judged = await listAll("/metric/metric_evaluation_result?source_type=simulation&limit=500", "metric_evaluation_results",
      { max: 5000 });
    for (const r of judged) if (r.source && Number.isInteger(r.source.run_index)) indexOf[r.id] = r.source.run_index;
  } catch (_) { /* without Metric:GetMetricEvaluationResult the result tuples are read in order */ }
  const testNames = Object.fromEntries(tests.map((t) => [t.id, t.name]));
  const body = $("#runs");
  for (const run of runs) {
    const figures = figuresFromResults(run, indexOf);
    const n = figures.reduce((a, f) => a + f.runs, 0);
    const c = figures.reduce((a, f) => a + f.passed, 0);
    body.append(el("tr", { dataset: { run: run.id } }, el("td", {}, when(run.created_at)),
      el("td", {}, setNames[run.simulation_unit_test_set_id] || run.simulation_unit_test_set_id),
      el("td", {}, run.is_completed ? "completed" : "in progress", run.failed_metrics ? " · failed metrics" : "",
        run.errored ? " · errored" : ""),
      el("td", {}, n ? `${percent(c / n)} (${c}/${n})` : "—"),
      el("td", {}, el("a", { href: `/console/simulations?run=${run.id}` }, "details"))));
  }
  if (!runs.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No run yet.")));
  const wanted = new URLSearchParams(location.search).get("run");
  if (wanted) await showRun(wanted, testNames, indexOf);
});
