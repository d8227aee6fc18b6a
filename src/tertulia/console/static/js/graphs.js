// Context graphs of the organization, with the services that use each.
import { $, el, listAll, page } from "./core.js";

const GRAPHS = "/organization/service_hierarchical_state_machine";

page(async () => {
  const [graphs, services] = await Promise.all([listAll(`${GRAPHS}?limit=50`, "service_hierarchical_state_machines"),
    listAll("/service/?limit=20", "services")]);
  const rows = $("#rows");
  for (const g of graphs) {
    const users = services.filter((s) => s.service_hierarchical_state_machine_id === g.id).map((s) => s.name);
    rows.append(el("tr", {},
      el("td", {}, el("a", { href: `/console/graphs/${g.id}` }, g.name), g.deprecated ? el("span", { class: "muted" }, " (deprecated)") : null),
      el("td", {}, g.latest_version === null ? "none" : `v${g.latest_version}`),
      el("td", {}, users.join(", "))));
  }
  if (!graphs.length) rows.append(el("tr", {}, el("td", { colspan: "3", class: "muted" }, "No context graph yet.")));
});
